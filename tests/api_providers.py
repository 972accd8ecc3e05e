"""The API providers as tests see them, so one test can run against each over the loopback
fake, and each provider's conftest gets the same fixtures from one place:

    @pytest.mark.parametrize("provider", PROVIDERS, ids=str)
    def test_x(provider):
        with FakeServer() as srv:
            lm = provider.make(srv, max_concurrency=4)

    srv, no_key_anywhere, make_lm = fixtures(ANTHROPIC)   # in tests/claude/conftest.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lmwrapper import RetryPolicy
from lmwrapper.testing import FakeServer

FAST_RETRY = RetryPolicy(max_retries=4, max_elapsed_s=60.0, initial_backoff_s=0.01,
                         max_backoff_s=0.05)


@dataclass(frozen=True)
class Provider:
    name: str  # as in "anthropic/claude-…" on the CLI
    model: str  # the default model of its tests
    key: str  # the test key (shaped like a real one, so scrubbing is tested)
    key_env_var: str
    base_url_env_var: str
    key_file: str  # under $HOME
    route: str  # the fake's name for a model call
    retry: RetryPolicy | None  # the default retry policy of its tests (None: the library's)

    def __str__(self) -> str:
        return self.name

    def base_url(self, srv: FakeServer) -> str:
        """What the provider's SDK takes as base_url for the fake."""
        return srv.anthropic_base_url if self.name == "anthropic" else srv.base_url

    def make(self, srv: FakeServer, model: str | None = None, **kw: Any) -> Any:
        """A model of this provider on `srv`, with the test key and the tests' retries."""
        kw.setdefault("api_key_secret", self.key)
        kw.setdefault("base_url", self.base_url(srv))
        if self.retry is not None:
            kw.setdefault("retry", self.retry)
        return self.factory()(model or self.model, **kw)

    def factory(self) -> Callable[..., Any]:
        if self.name == "anthropic":
            from lmwrapper.claude_wrapper import get_claude_lm

            return get_claude_lm
        from lmwrapper.openai_wrapper import get_open_ai_lm

        return get_open_ai_lm


# gpt-4o-mini on purpose: the OpenAI tests exercise a chat model (`n` samples in one request,
# logprobs, temperature with no reasoning effort), and every OpenAI chat model shuts down on
# 2027-01-14 (the openai 3.63.0 SDK's table); no current model is one. The suite pins its day
# ($LMWRAPPER_TODAY in tests/conftest.py), so the fake serves it and the client's warning
# reads the same after that date. Moved to gpt-5.4-mini, 44 of these tests fail for chat
# features alone (checked 2026-12-07). Examples and CLI tests follow the docs: gpt-5.4-mini.
OPENAI = Provider("openai", "gpt-4o-mini", "sk-test-SECRET0123456789abcdef", "OPENAI_API_KEY",
                  "OPENAI_BASE_URL", "oai_key.txt", "chat.completions", None)
ANTHROPIC = Provider("anthropic", "claude-3-5-haiku-20241022",
                     "sk-ant-test-SECRET0123456789abcdef", "ANTHROPIC_API_KEY",
                     "ANTHROPIC_BASE_URL", "anthropic_key.txt", "messages", FAST_RETRY)
PROVIDERS = [OPENAI, ANTHROPIC]


def fixtures(provider: Provider) -> tuple[Any, Any, Any]:
    """(srv, no_key_anywhere, make_lm) fixtures for `provider`'s tests."""

    @pytest.fixture(name="srv")
    def srv_fixture():
        with FakeServer(latency=0.0) as s:
            yield s

    @pytest.fixture(name="no_key_anywhere")
    def no_key_fixture(tmp_path, monkeypatch):
        # no key in the environment, and a HOME without the provider's key file
        monkeypatch.delenv(provider.key_env_var, raising=False)
        monkeypatch.delenv(provider.base_url_env_var, raising=False)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        os.makedirs(tmp_path / "home", exist_ok=True)

    @pytest.fixture(name="make_lm")
    def make_lm_fixture(srv, monkeypatch):
        """`make_lm(model, **kw)`: a model on the fake with the test key (and fast retries
        where the provider's tests want them)."""
        monkeypatch.delenv(provider.base_url_env_var, raising=False)
        return lambda model=None, **kw: provider.make(srv, model, **kw)

    return srv_fixture, no_key_fixture, make_lm_fixture
