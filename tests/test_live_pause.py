"""A run paused past its claim lease (Ctrl-Z, a laptop asleep) re-checks its claims and the
cache before it sends anything more (issue 17, row 8).

Two real processes on one cache file against the loopback fake: A is stopped with SIGSTOP
from inside the server while it answers A's 100th request (while the test holds the cache's
write lock, so A is not stopped inside a commit); B then runs the same prompts,
waits for A's claims to lapse (its own polling), takes them over and answers everything;
A is continued with SIGCONT. Before: A went on sending what B had answered (370 of 600).
Now A sends nothing more and serves B's answers from the cache.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from cache_file import CACHE_FILE, cache_stats

import lmwrapper
from lmwrapper.testing import FakeServer

N, CONC, STOP_AT = 300, 8, 100
ROUTE = "chat.completions"

CHILD = textwrap.dedent("""
    import json, sys
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt
    base_url, cache_dir, conc, n, out = sys.argv[1:6]
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-test-pause-0123456789",
                        base_url=base_url, max_concurrency=int(conc), cache_dir=cache_dir)
    prompts = [LmPrompt(f"item-{i}-end", max_tokens=3, temperature=0) for i in range(int(n))]
    got = list(lm.predict_many(prompts))
    json.dump({"answered": sum(not p.has_errors for p in got),
               "cached": sum(p.was_cached for p in got)}, open(out, "w"))
""")


def _child(srv, tmp_path, name):
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1]),
           "LMWRAPPER_PROGRESS": "0", "LMWRAPPER_CLAIM_LEASE_S": "1",
           "LMWRAPPER_CLAIM_POLL_S": "0.1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, srv.base_url, str(tmp_path / "cache"),
                             str(CONC), str(N), str(tmp_path / f"{name}.json")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_run_woken_past_its_lease_sends_nothing_another_run_answered(tmp_path):
    stopped = threading.Event()
    cache_file = tmp_path / "cache" / CACHE_FILE
    with FakeServer(latency=0.01) as srv:
        a = _child(srv, tmp_path, "a")
        seen, lock = [0], threading.Lock()

        def answer(_req):
            with lock:
                seen[0] += 1
                if seen[0] == STOP_AT:
                    # Ctrl-Z, mid-run, at a moment A holds no write lock on the cache (stopped
                    # inside a commit, it would block B's writes: a fault of its own)
                    db = sqlite3.connect(cache_file, timeout=60, isolation_level=None)
                    db.execute("BEGIN IMMEDIATE")
                    os.kill(a.pid, signal.SIGSTOP)
                    db.execute("COMMIT")
                    db.close()
                    stopped.set()
        srv.set_answer(answer)
        try:
            assert stopped.wait(timeout=120)
            billed_by_a = srv.count(ROUTE)
            b = _child(srv, tmp_path, "b")
            _, err_b = b.communicate(timeout=300)
            assert b.returncode == 0, err_b
            billed_before_wake = srv.count(ROUTE)
            a.send_signal(signal.SIGCONT)
            _, err_a = a.communicate(timeout=300)
        finally:
            if a.poll() is None:
                a.send_signal(signal.SIGCONT)
                a.kill()
        billed = srv.count(ROUTE)
    print(f"billed: A before its pause {billed_by_a}, B {billed_before_wake - billed_by_a}, "
          f"A after waking {billed - billed_before_wake}; delivered {N} to each")
    assert a.returncode == 0, err_a
    out_a = json.loads((tmp_path / "a.json").read_text())
    out_b = json.loads((tmp_path / "b.json").read_text())
    assert out_a["answered"] == N and out_b["answered"] == N
    # A, woken, sent at most what its workers were already about to send; before: every
    # prompt it had not sent yet (B's answers bought again)
    assert billed - billed_before_wake <= CONC, (billed_by_a, billed_before_wake, billed)
    assert out_a["cached"] >= N - billed_by_a - CONC  # B's answers, served from the cache
    # each prompt bought once, but for two bounded sets: those A had in flight when it
    # stopped (their claims lapsed, B took them) and those A's workers had already cleared to
    # send when it woke (checked above): at most CONC each
    assert billed <= N + 2 * CONC
    assert cache_stats(tmp_path / "cache")["rows"] == N
