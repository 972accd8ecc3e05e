"""Real processes: one killed with SIGKILL mid-run, eight writing one cache file at once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from cache_file import CACHE_FILE, exported_rows

N = 2000

RUNNER = textwrap.dedent("""
    import json, sys
    from lmwrapper.structs import LmPrompt
    from lmwrapper.testing import ScriptedLm
    n, delay, log, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    lm = ScriptedLm(delay=delay, call_log_path=log)
    prompts = [LmPrompt(f"prompt {i}", temperature=0) for i in range(n)]
    texts = [p.completion_text for p in lm.predict_many(prompts)]
    json.dump(texts, open(out, "w"))
""")


def _run_child(tmp_path, delay, log, out):
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(N), str(delay), str(log), str(out)],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_sigkill_mid_run_then_rerun_resends_only_unstored_prompts(tmp_path, cache_dir):
    log1, log2 = tmp_path / "calls1.log", tmp_path / "calls2.log"
    child = _run_child(tmp_path, 0.003, log1, tmp_path / "out1.json")
    deadline = time.monotonic() + 120
    while len(_lines(log1)) < 400 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    sent_before_kill = len(_lines(log1))
    assert 400 <= sent_before_kill < N

    db = sqlite3.connect(cache_dir / CACHE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored_keys = {k for (k,) in db.execute("SELECT key FROM predictions")}
    db.close()
    assert 0 < len(stored_keys) <= sent_before_kill

    stored = {row["prompt"]["text"] for row in exported_rows(cache_dir)}
    assert len(stored) == len(stored_keys)
    unstored = {f"prompt {i}" for i in range(N)} - stored

    rerun = _run_child(tmp_path, 0.0, log2, tmp_path / "out2.json")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-2000:]
    resent = _lines(log2)
    assert len(resent) == len(set(resent)) == len(unstored)
    assert set(resent) == unstored
    texts = json.loads((tmp_path / "out2.json").read_text())
    assert texts == [f"echo: prompt {i}" for i in range(N)]
    db = sqlite3.connect(cache_dir / CACHE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] == N


WRITER = textwrap.dedent("""
    import os, sys, time
    from lmwrapper.structs import LmPrompt
    from lmwrapper.testing import ScriptedLm
    worker, go = int(sys.argv[1]), sys.argv[2]
    while not os.path.exists(go):
        time.sleep(0.001)
    lm = ScriptedLm()
    locked = 0
    for start in range(0, 500, 50):  # ten runs of 50, so the writers interleave
        try:
            prompts = [LmPrompt(f"w{worker} p{i}") for i in range(start, start + 50)]
            assert len(list(lm.predict_many(prompts))) == 50
        except Exception as e:
            locked += "locked" in str(e)
            raise
    print(f"locked={locked}")
""")


def test_eight_processes_write_one_cache_file_without_lock_errors(tmp_path, cache_dir):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(go)],
                              env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for w in range(8)]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()[-2000:]
        assert b"locked=0" in out
        assert b"database is locked" not in err
    db = sqlite3.connect(cache_dir / CACHE_FILE)
    assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] == 4000
    assert db.execute("SELECT count(DISTINCT key) FROM predictions").fetchone()[0] == 4000
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
