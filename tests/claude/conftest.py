"""Fixtures for the Claude backend: the loopback fake server and models pointed at it."""

from __future__ import annotations

import os

import pytest

from lmwrapper.claude_wrapper import get_claude_lm
from lmwrapper.live_runner import RetryPolicy
from lmwrapper.testing import FakeServer

API_KEY = "sk-ant-test-SECRET0123456789abcdef"
FAST_RETRY = RetryPolicy(max_retries=4, max_elapsed_s=60.0, initial_backoff_s=0.01,
                         max_backoff_s=0.05)


@pytest.fixture
def srv():
    with FakeServer(latency=0.0) as s:
        yield s


@pytest.fixture
def no_key_anywhere(tmp_path, monkeypatch):
    """No $ANTHROPIC_API_KEY and a HOME without anthropic_key.txt."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.makedirs(tmp_path / "home", exist_ok=True)


@pytest.fixture
def make_lm(srv, monkeypatch):
    """`make_lm(model, **kw)`: a Claude model on the fake with a test key and fast retries."""
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)

    def make(model="claude-3-5-haiku-20241022", **kw):
        kw.setdefault("api_key_secret", API_KEY)
        kw.setdefault("base_url", srv.anthropic_base_url)
        kw.setdefault("retry", FAST_RETRY)
        return get_claude_lm(model, **kw)

    return make


def sent_bodies(srv, route="messages"):
    return [r.body for r in srv.requests if r.route == route]
