"""Who may act on a claimed line: owners alive, dead, or replaced by a reused pid."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lmwrapper.store.batch_records import _HOST, new_owner, owner_alive, release_owner


def test_a_runner_of_this_process_is_alive_until_released():
    owner = new_owner()
    assert owner_alive(owner)
    release_owner(owner)
    assert not owner_alive(owner)


def test_a_dead_process_is_not_alive():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    assert not owner_alive(f"{_HOST}:{child.stdout.strip()}:-:token")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="start times need /proc")
def test_a_reused_pid_is_not_the_old_owner():
    parent = os.getppid()
    assert owner_alive(f"{_HOST}:{parent}:-:token")  # start time unknown: trust the pid
    assert not owner_alive(f"{_HOST}:{parent}:0000.1:token")  # same pid, other process


def test_another_hosts_owner_is_alive_until_stale():
    assert owner_alive("elsewhere:1:-:t")
    assert owner_alive("elsewhere:1:-:t", updated_at=0.0, stale_s=10**12)
    assert not owner_alive("elsewhere:1:-:t", updated_at=0.0, stale_s=60)


@pytest.mark.timeout(120)  # without the take-over the run would wait for the dead claim
def test_a_stale_claim_of_another_host_is_taken_over_and_sent_once(srv, make_lm):
    import time

    from lmwrapper.batch_config import CompletionWindow
    from lmwrapper.structs import LmPrompt
    from tests.batching.conftest import run_runner, sent_texts

    lm = make_lm()
    ps = [LmPrompt(f"q{i}", max_tokens=3, temperature=0) for i in range(3)]
    run_runner(lm, ps, should_stop=lambda: True)  # claimed and planned, nothing sent
    with lm.cache.write() as c:  # as if a run on another machine claimed them 2 h ago, then died
        c.execute("UPDATE batch_lines SET state = 'claimed', uid = NULL, owner = 'laptop:7:-:t'")
        c.execute("DELETE FROM batch_batches")
        c.execute("UPDATE batch_jobs SET created_at = ?", (time.time() - 7200,))
    preds = list(lm.predict_many(ps, completion_window=CompletionWindow.BATCH_ANY))
    assert not any(p.has_errors for p in preds)
    assert sorted(sent_texts(srv)) == ["q0", "q1", "q2"]
