"""A paid answer is stored or handed back, never dropped, when the cache file cannot take it.

Real processes against the loopback fake, which counts what it bills: the run is a child
process; the cache's write lock is held by a second real process (taken from inside the
server while it answers the 100th request, so the fault lands mid-run); the cache file is
deleted with `os.remove` the same way. Handshakes by pipes, no sleeps standing for sync.
"""

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.store.db import CACHE_FILE_NAME, SqlCache
from lmwrapper.testing import FakeServer

N, CONC, FAULT_AT = 800, 16, 100
ROUTE = "chat.completions"

CHILD = textwrap.dedent("""
    import json, sys
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt
    base_url, cache_dir, conc, n, out = sys.argv[1:6]
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-test-store-0123456789",
                        base_url=base_url, max_concurrency=int(conc), cache_dir=cache_dir)
    prompts = [LmPrompt(f"item-{i}-end", max_tokens=3, temperature=0) for i in range(int(n))]
    got, error = [], None
    try:
        for p in lm.predict_many(prompts):
            got.append(p.completion_text)
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
    json.dump({"answered": len(got), "error": error}, open(out, "w"))
""")

LOCKER = textwrap.dedent("""
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    for line in sys.stdin:
        if line.strip() == "lock":
            db.execute("BEGIN IMMEDIATE")
        elif line.strip() == "release":
            db.execute("COMMIT")
        print("ok", flush=True)
""")


def _child(srv, cache_dir, out, **env):
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1]),
           "LMWRAPPER_PROGRESS": "0", **env}
    return subprocess.Popen([sys.executable, "-c", CHILD, srv.base_url, str(cache_dir), str(CONC),
                             str(N), str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


class Locker:
    """A second process that takes and releases the cache's write lock when told."""

    def __init__(self, path):
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def tell(self, what):
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self):
        self.proc.kill()
        self.proc.wait()


def _at_request(srv, n, action):
    """Run `action()` inside the server while it answers its `n`th model call."""
    seen, lock = [0], threading.Lock()

    def answer(_req):
        with lock:
            seen[0] += 1
            if seen[0] == n:
                action()
    srv.set_answer(answer)


def _stderr_lines(proc):
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_line(lines, text, collected):
    while True:
        line = lines.get(timeout=120)  # a bound for a hung child, not a synchronisation
        assert line is not None, f"the run ended without saying {text!r}: {''.join(collected)}"
        collected.append(line)
        if text in line:
            return


@pytest.fixture
def cache_path(tmp_path):
    path = tmp_path / "cache" / CACHE_FILE_NAME
    SqlCache(path).close()
    return path


@pytest.mark.parametrize("http", ["lean", "sdk"])
def test_locked_cache_pauses_sending_and_stores_everything_once_it_is_free(
        tmp_path, cache_path, http):
    locker = Locker(cache_path)
    try:
        with FakeServer(latency=0.02) as srv:
            _at_request(srv, FAULT_AT, lambda: locker.tell("lock"))
            child = _child(srv, cache_path.parent, tmp_path / "out.json",
                           **({"LMWRAPPER_LIVE_HTTP": "sdk"} if http == "sdk" else {}))
            lines, err = _stderr_lines(child), []
            _wait_for_line(lines, "sending paused", err)
            billed_while_locked = srv.count(ROUTE)
            locker.tell("release")
            _wait_for_line(lines, "sending resumed", err)
            child.wait(timeout=300)
            billed = srv.count(ROUTE)
        out = json.loads((tmp_path / "out.json").read_text())
        print(f"[{http}] billed {billed_while_locked} when paused, {billed} in all; "
              f"delivered {out['answered']}")
        # before: sent for 300 s (all 800), then CacheLockedError and 635 answers dropped
        assert billed_while_locked <= FAULT_AT + 8 * CONC, billed_while_locked
        assert out == {"answered": N, "error": None}, err
        assert billed == N  # nothing bought twice
        assert SqlCache(cache_path).stats()["rows"] == N
    finally:
        locker.close()


def _rerun_pays_only_the_rest(srv, tmp_path, cache_path, billed_first):
    child = _child(srv, cache_path.parent, tmp_path / "out2.json")
    _, err = child.communicate(timeout=300)
    out = json.loads((tmp_path / "out2.json").read_text())
    assert out == {"answered": N, "error": None}, err
    assert "imported" in err
    print(f"rerun billed {srv.count(ROUTE) - billed_first}; total {srv.count(ROUTE)} for {N}")
    assert srv.count(ROUTE) == N, (billed_first, srv.count(ROUTE))  # each answer bought once
    assert not list(cache_path.parent.glob("*.journal-*"))
    assert SqlCache(cache_path).stats()["rows"] == N


def test_lock_held_past_the_timeout_hands_answers_back_and_journals_them(tmp_path, cache_path):
    locker = Locker(cache_path)
    try:
        with FakeServer(latency=0.02) as srv:
            _at_request(srv, FAULT_AT, lambda: locker.tell("lock"))
            child = _child(srv, cache_path.parent, tmp_path / "out.json",
                           LMWRAPPER_CACHE_LOCK_TIMEOUT="2")
            _, err = child.communicate(timeout=300)
            billed_first = srv.count(ROUTE)
            out = json.loads((tmp_path / "out.json").read_text())
            assert "CacheLockedError" in out["error"] and "journal" in out["error"], err
            assert billed_first <= FAULT_AT + 8 * CONC  # before: all 800, 635 of them dropped
            assert out["answered"] >= FAULT_AT - CONC  # handed back, in input order
            [journal] = cache_path.parent.glob("*.journal-*")
            assert oct(journal.stat().st_mode & 0o777) == "0o600"
            journaled = len(journal.read_text().splitlines())
            locker.tell("release")
            print(f"billed {billed_first}; handed back {out['answered']}, journaled {journaled}")
            assert journaled >= billed_first - FAULT_AT - CONC
            _rerun_pays_only_the_rest(srv, tmp_path, cache_path, billed_first)
    finally:
        locker.close()


def test_cache_file_deleted_mid_run_is_noticed_and_nothing_paid_is_lost(tmp_path, cache_path):
    with FakeServer(latency=0.02) as srv:
        _at_request(srv, FAULT_AT, lambda: os.remove(cache_path))
        child = _child(srv, cache_path.parent, tmp_path / "out.json")
        _, err = child.communicate(timeout=300)
        billed_first = srv.count(ROUTE)
        out = json.loads((tmp_path / "out.json").read_text())
        # before: success reported, nothing kept, the rerun paid for all 600 again
        assert out["error"] and "deleted or replaced" in out["error"], (out, err)
        assert billed_first <= FAULT_AT + 8 * CONC
        [journal] = cache_path.parent.glob("*.journal-*")
        print(f"billed {billed_first}; handed back {out['answered']}, "
              f"journaled {len(journal.read_text().splitlines())}")
        assert len(journal.read_text().splitlines()) >= billed_first - CONC
        _rerun_pays_only_the_rest(srv, tmp_path, cache_path, billed_first)
