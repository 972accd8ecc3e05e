"""Fixtures for the OpenAI backend: a loopback fake server and models pointed at it."""

from __future__ import annotations

import os

import pytest

from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.testing import FakeServer

API_KEY = "sk-test-SECRET0123456789abcdef"


@pytest.fixture
def srv():
    with FakeServer(latency=0.0) as s:
        yield s


@pytest.fixture
def no_key_anywhere(tmp_path, monkeypatch):
    """No $OPENAI_API_KEY and a HOME without oai_key.txt."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.makedirs(tmp_path / "home", exist_ok=True)


@pytest.fixture
def make_lm(srv, monkeypatch):
    """`make_lm(model, **kw)`: a model on the fake server with a test key and fast retries."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    def make(model="gpt-4o-mini", **kw):
        kw.setdefault("api_key_secret", API_KEY)
        kw.setdefault("base_url", srv.base_url)
        lm = get_open_ai_lm(model, **kw)
        return lm

    return make
