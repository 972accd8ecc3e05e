"""Fixtures for the batch engine: a fast-polling fake server and models pointed at it."""

from __future__ import annotations

import pytest

from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.testing import FakeServer
from tests.batching.providers import BATCH_PROVIDERS, batch_lm

API_KEY = "sk-test-SECRET0123456789abcdef"
FAST = {"LMWRAPPER_BATCH_POLL_S": "0.01", "LMWRAPPER_BATCH_POLL_MAX_S": "0.05"}



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


# Every registered provider with a batch API: crash and fault tests run once per entry, each
# on the model its fake serves for tests (see tests/batching/child.py).
PROVIDERS = BATCH_PROVIDERS


@pytest.fixture(params=PROVIDERS)
def provider_lm(request, srv):
    """`make(**kw)`: a batch-capable model of each provider on the fake server."""
    def make(**kw):
        kw.setdefault("api_key_secret", API_KEY)
        return batch_lm(srv.url, request.param, **kw)

    make.provider = request.param
    return make


@pytest.fixture
def make_lm(srv):
    def make(model="gpt-4o-mini", **kw):
        kw.setdefault("api_key_secret", API_KEY)
        kw.setdefault("base_url", srv.base_url)
        return get_open_ai_lm(model, **kw)

    return make


def sent_lines(srv):
    """(batch id, custom id, body) of every line every batch at the fake received."""
    batches = srv.state.batches
    with srv.lock:
        return [(job.id, cid, body) for job in batches.values() for cid, body in job.requests]


def sent_texts(srv):
    """The user message of every line sent, with repeats (a line sent twice shows twice)."""
    return [body["messages"][-1]["content"] for _, _, body in sent_lines(srv)]


def jobs_for(lm, prompts):
    """The engine's Jobs for `prompts` (nothing cached), for driving the runner directly."""
    from lmwrapper.core.contract import Job
    from lmwrapper.store.db import prompt_key

    ident = lm.identity_json()
    return [Job(prompt_key(p.canonical(), ident), p, list(range(p.samples_needed))) for p in prompts]


def run_runner(lm, prompts, should_stop=lambda: False, **settings):
    """Drive `batch_runner` directly; returns {prompt text: [predictions]} of what was emitted."""
    from lmwrapper.runners.batch import batch_runner

    got = {}
    runner = batch_runner(lm, lm.cache, **settings)
    runner.run(jobs_for(lm, prompts), lambda job, preds: got.__setitem__(job.prompt.text, list(preds)),
               should_stop)
    return got
