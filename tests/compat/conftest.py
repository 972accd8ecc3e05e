"""Fixtures for the 0.18 drop-in tests: the fake OpenAI server and a tiny local model.

`tiny_dir` is built like tests/huggingface's (a random 2-layer GPT-2 with a byte-level BPE
tokenizer trained on the fly, and a chat template), so these tests need no download.
"""

from __future__ import annotations

import os

import pytest
from compat_constants import API_KEY, SERVED_DAY
from tiny_gpt2 import build_tiny_gpt2

from lmwrapper.testing import FakeServer

CORPUS = [
    "The capital of France is Paris. The capital of Germany is Berlin.",
    "Once upon a time there was a small model that learned to count: one, two, three.",
    "def add(a, b):\n    return a + b\n",
    "user: hello\nassistant: hi there",
] * 20



@pytest.fixture
def srv():
    with FakeServer(latency=0.0, today=SERVED_DAY) as s:  # see compat_constants.SERVED_DAY
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

    torch.set_num_threads(int(os.environ["LMWRAPPER_TEST_TORCH_THREADS"]))
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2-compat"), CORPUS, vocab_size=300,
                           n_embd=32, n_head=2)
