"""Models for the Hugging Face tests, each built or loaded once per session.

- `tiny_dir`: a random 2-layer GPT-2 (n_embd 64) with a byte-level BPE tokenizer trained on
  the fly with `tokenizers` (well under a second), saved with save_pretrained.
- `tiny_lm`: that folder through `get_huggingface_lm` (cache off; tests that need the cache
  take `tiny_lm.with_settings(cache_dir=...)`, which shares the weights).
- `smol_lm`: the embedded SmolLM2-135M-Instruct (tests marked `slow`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tiny_gpt2 import build_tiny_gpt2

CORPUS = [
    "The capital of France is Paris. The capital of Germany is Berlin.",
    "Once upon a time there was a small model that learned to count: one, two, three.",
    "def add(a, b):\n    return a + b\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12. Café, naïve, 東京, emoji 🙂.",
    "system: be brief\nuser: hello\nassistant: hi there",
] * 20



@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(int(os.environ["LMWRAPPER_TEST_TORCH_THREADS"]))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"), CORPUS, vocab_size=400,
                           n_embd=64, n_head=4)


@pytest.fixture(scope="session")
def tiny_lm(tiny_dir):
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    lm = get_huggingface_lm(str(tiny_dir), device="cpu", batch_size=4, cache_default=False)
    _ = lm.model  # load now, once
    return lm


@pytest.fixture(scope="session")
def smol_lm():
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    # weights from $LMWRAPPER_MODELS_DIR: the suite's, converted once per machine
    return get_huggingface_lm("smollm2-135m-instruct", device="cpu", cache_default=False)


@pytest.fixture
def cached_tiny(tiny_lm, cache_dir):
    """The tiny model with the cache on, in this test's own cache directory."""
    return tiny_lm.with_settings(cache_default=True, cache_dir=str(cache_dir))


@pytest.fixture(scope="session")
def endless_dir(tiny_dir, tmp_path_factory) -> Path:
    """A tiny GPT-2 with a 4096-token context and no end-of-sequence token: it generates
    exactly max_tokens tokens, so a long generation is long whatever the weights say."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_dir)
    tok.bos_token = tok.eos_token = None
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tok), n_positions=4096, n_embd=64, n_layer=2, n_head=4,
                        bos_token_id=None, eos_token_id=None)
    d = tmp_path_factory.mktemp("endless-gpt2")
    GPT2LMHeadModel(config).save_pretrained(d)
    tok.save_pretrained(d)
    return d
