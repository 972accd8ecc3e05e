"""Fixtures for the 0.18 drop-in tests: the fake OpenAI server and a tiny local model.

`tiny_dir` is built like tests/huggingface's (a random 2-layer GPT-2 with a byte-level BPE
tokenizer trained on the fly, and a chat template), so these tests need no download.
"""

from __future__ import annotations

import pytest
from compat_constants import API_KEY

from lmwrapper.testing import FakeServer

CORPUS = [
    "The capital of France is Paris. The capital of Germany is Berlin.",
    "Once upon a time there was a small model that learned to count: one, two, three.",
    "def add(a, b):\n    return a + b\n",
    "user: hello\nassistant: hi there",
] * 20

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture
def srv():
    with FakeServer(latency=0.0) as s:
        yield s


@pytest.fixture
def openai_env(srv, monkeypatch):
    """What a 0.18 user has: a key in $OPENAI_API_KEY; here the server is the fake one."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    return srv


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.set_num_threads(2)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", pad_token="<|pad|>")
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(fast), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    d = tmp_path_factory.mktemp("tiny-gpt2-compat")
    GPT2LMHeadModel(config).save_pretrained(d)
    fast.save_pretrained(d)
    return d
