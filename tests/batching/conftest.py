"""Fixtures for the batch engine: a fast-polling fake server and models pointed at it."""

from __future__ import annotations

import pytest

from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.testing import FakeServer
from tests.batching import shim

API_KEY = "sk-test-SECRET0123456789abcdef"
FAST = {"LMWRAPPER_BATCH_POLL_S": "0.01", "LMWRAPPER_BATCH_POLL_MAX_S": "0.05"}

shim.install()


@pytest.fixture
def srv():
    with FakeServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    for k, v in FAST.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LMWRAPPER_OPENAI_TIER", raising=False)


@pytest.fixture
def make_lm(srv):
    def make(model="gpt-4o-mini", **kw):
        kw.setdefault("api_key_secret", API_KEY)
        kw.setdefault("base_url", srv.base_url)
        return get_open_ai_lm(model, **kw)

    return make
