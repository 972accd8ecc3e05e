"""SIGKILL at every step of the batch engine, then a rerun: nothing sent twice, nothing lost.

The child (`tests/batching/child.py`) is a real process that kills itself with SIGKILL at
one step; the fake server lives in this process, so its counters see both runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt
from tests.batching.conftest import sent_texts

N = 6
ROOT = Path(__file__).resolve().parents[2]


def child(srv, point, out, go=None, env=None, provider="openai"):
    env = {**(env or os.environ), "LMWRAPPER_TEST_PROVIDER": provider}
    args = [sys.executable, "-m", "tests.batching.child", srv.url, point, str(N), str(out)]
    return subprocess.Popen(args + ([str(go)] if go else []), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc):
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


def creates(srv):
    """Batches created at the fake, any provider."""
    with srv.lock:
        return len(srv.state.batches)


def fake_files(srv):
    files = srv.state.files
    with srv.lock:
        return list(files)


@pytest.mark.parametrize("point", ["before_upload", "after_upload", "after_create",
                                   "while_polling", "while_collecting", "before_deleting_files"])
def test_sigkill_at_each_step_then_rerun_sends_nothing_twice(srv, tmp_path, point, provider_lm):
    provider = provider_lm.provider
    code, err = finish(child(srv, point, tmp_path / "killed.json", provider=provider))
    assert code == -signal.SIGKILL, err
    code, err = finish(child(srv, "none", tmp_path / "rerun.json", provider=provider))
    assert code == 0, err
    answers = json.loads((tmp_path / "rerun.json").read_text())
    assert len(answers) == N and not any(failed for _, failed in answers)
    # every line went to the provider once, though the first process died mid-way
    assert sorted(sent_texts(srv)) == sorted(f"q{i}" for i in range(N))
    assert creates(srv) == 1
    # a third run is served from the cache
    code, err = finish(child(srv, "none", tmp_path / "third.json", provider=provider))
    assert code == 0 and json.loads((tmp_path / "third.json").read_text()) == answers
    assert creates(srv) == 1
    # the next batch run deletes whatever a killed run left at the provider (orphaned
    # uploads, files of a collected batch): only its own batch is sent
    list(provider_lm().predict_many([LmPrompt("z", max_tokens=5, temperature=0)],
                                completion_window=CompletionWindow.BATCH_ANY))
    assert sent_texts(srv).count("z") == 1 and len(sent_texts(srv)) == N + 1
    assert fake_files(srv) == []


def test_two_processes_on_one_job_never_send_a_line_twice(srv, tmp_path, provider_lm):
    env = {**os.environ, "LMWRAPPER_BATCH_MAX_REQUESTS": "2"}
    go = tmp_path / "go"
    procs = [child(srv, "none", tmp_path / f"out{i}.json", go=go, env=env,
                   provider=provider_lm.provider) for i in range(2)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"out{i}.json.ready").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.write_text("go")
    results = [finish(p) for p in procs]
    assert all(code == 0 for code, _ in results), results
    outs = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    assert outs[0] == outs[1] and not any(failed for _, failed in outs[0])
    assert sorted(sent_texts(srv)) == sorted(f"q{i}" for i in range(N))
