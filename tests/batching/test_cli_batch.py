"""`lmwrapper batch list | status | wait | cancel` as real subprocesses, and submit-and-return."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt
from lmwrapper.tools.batch import submit_or_collect
from tests.batching.conftest import API_KEY, sent_texts


@pytest.fixture(autouse=True)
def configured_here(srv, monkeypatch):
    """The fake is the base URL configured here: `batch wait/cancel` may send it the key."""
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)


def cli(*args):
    env = {**os.environ, "OPENAI_API_KEY": API_KEY}
    return subprocess.run([sys.executable, "-m", "lmwrapper", *args], check=False, capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)


def qs(n):
    return [LmPrompt(f"q{i}", max_tokens=5, temperature=0) for i in range(n)]


def test_submit_returns_at_once_and_wait_collects(srv, make_lm):
    lm = make_lm()
    first = submit_or_collect(lm, qs(4))
    job = first.job_id
    assert job and first.waiting == 4 and srv.count("batches.create") == 1
    assert lm.cache.stats()["rows"] == 0  # it did not wait for answers
    listed = cli("batch", "list")
    assert listed.returncode == 0 and job in listed.stdout and "4 waiting" in listed.stdout
    status = cli("batch", "status", job)
    batch_id = next(iter(srv.state.batches))
    assert status.returncode == 0 and batch_id in status.stdout
    waited = cli("batch", "wait", job)
    assert waited.returncode == 0, waited.stderr
    assert "4 done, 0 waiting, 0 failed" in waited.stdout
    preds = list(lm.predict_many(qs(4), completion_window=CompletionWindow.BATCH_ANY))
    assert all(p.was_cached for p in preds) and srv.count("batches.create") == 1
    assert submit_or_collect(lm, qs(4)).waiting == 0  # all cached: nothing to submit


def test_cancel_then_wait_resends_only_what_the_cancel_left_unanswered(srv, make_lm):
    lm = make_lm()
    job = submit_or_collect(lm, qs(4)).job_id
    cancelled = cli("batch", "cancel", job)
    assert cancelled.returncode == 0 and "cancelled 1 batch " in cancelled.stdout
    assert cli("batch", "wait", job).returncode == 0
    preds = list(lm.predict_many(qs(4), completion_window=CompletionWindow.BATCH_ANY))
    assert all(p.was_cached and not p.has_errors for p in preds)
    assert len(sent_texts(srv)) < 8 and sorted(set(sent_texts(srv))) == [f"q{i}" for i in range(4)]


def test_unknown_job_says_how_to_find_one(srv, make_lm):
    make_lm().cache.stats()  # the cache file exists (a missing one is said so: test_cli_abandon)
    r = cli("batch", "status", "jnope")
    assert r.returncode == 2 and "lmwrapper batch list" in r.stderr and not r.stdout


def test_rerunning_submit_or_collect_collects_without_sending_again(srv, make_lm):
    lm = make_lm()
    runs = [submit_or_collect(lm, qs(3))]
    while runs[-1].waiting:  # the fake finishes a batch in a few polls: a few reruns
        assert len(runs) < 50
        runs.append(submit_or_collect(lm, qs(3)))
    assert runs[0].job_id and all(r.job_id is None for r in runs[1:])
    assert srv.count("batches.create") == 1 and lm.cache.stats()["rows"] == 3


def test_wait_and_cancel_send_no_key_to_a_base_url_only_the_cache_file_names(srv, make_lm,
                                                                             monkeypatch):
    """Someone else's cache file records their server; ours is configured here (issue 17)."""
    job = submit_or_collect(make_lm(), qs(4)).job_id
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    srv.clear_log()
    for command in ("wait", "cancel"):
        r = cli("batch", command, job)
        assert r.returncode != 0 and "--trust-base-url" in r.stderr, r
        assert srv.base_url in r.stderr
    assert srv.requests == []  # before: each sent the key to the recorded URL
    r = cli("batch", "wait", job, "--trust-base-url")
    assert r.returncode == 0, r.stderr
    assert srv.requests and all(req.headers.get("authorization") for req in srv.requests)
