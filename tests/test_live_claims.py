"""Two processes on the same prompts and cache file pay for each prompt once (lmwrapper.store.claims).

Real processes, the official SDK over real HTTP against the loopback fake, SQLite on disk;
one holder killed with SIGKILL mid-run. Handshakes by files, no sleeps standing for sync.
"""

import collections
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine.plan import Plan
from lmwrapper.store.db import CACHE_FILE_NAME, get_cache
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer, ScriptedBackend, ScriptedLm

N = 60
CHILD = textwrap.dedent("""
    import json, os, sys, time
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt
    base_url, cache_dir, conc, ready, go, out, n = sys.argv[1:8]
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-test-claims-0123456789",
                        base_url=base_url, max_concurrency=int(conc), cache_dir=cache_dir)
    prompts = [LmPrompt(f"item-{i}-end", max_tokens=3, temperature=0) for i in range(int(n))]
    open(ready, "w").close()
    while go != "-" and not os.path.exists(go):
        time.sleep(0.001)
    got = list(lm.predict_many(prompts))
    json.dump({"texts": [p.completion_text for p in got],
               "errors": [p.error_message for p in got if p.has_errors],
               "summary": str(lm.last_run)}, open(out, "w"))
""")


def _child(srv, tmp_path, name, conc, go="-", **env):
    args = [srv.base_url, str(tmp_path / "cache"), str(conc), str(tmp_path / f"{name}.ready"),
            str(go), str(tmp_path / f"{name}.json"), str(N)]
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1]),
           "LMWRAPPER_CLAIM_POLL_S": "0.2", "LMWRAPPER_PROGRESS": "0", **env}
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(cond, what, deadline_s=120):
    deadline = time.monotonic() + deadline_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _sent(srv):
    """How many times the fake was asked each prompt."""
    asked = collections.Counter()
    for r in srv.requests:
        if r.route == "chat.completions":
            asked.update(re.findall(r"item-\d+-end", json.dumps(r.body)))
    return asked


def _result(tmp_path, name, proc):
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_two_processes_on_the_same_prompts_send_each_prompt_once(tmp_path):
    go = tmp_path / "go"
    with FakeServer(latency=0.2) as srv:
        procs = {n: _child(srv, tmp_path, n, 4, go) for n in ("a", "b")}
        _wait(lambda: all((tmp_path / f"{n}.ready").exists() for n in procs), "both children")
        go.touch()  # both start together
        results = {n: _result(tmp_path, n, p) for n, p in procs.items()}
        asked = _sent(srv)
    assert set(asked) == {f"item-{i}-end" for i in range(N)}
    assert max(asked.values()) == 1, asked.most_common(5)
    a, b = results["a"], results["b"]
    assert a["errors"] == b["errors"] == []
    assert a["texts"] == b["texts"] and len(a["texts"]) == N and all(a["texts"])
    # together they answered every prompt once: what one sent, the other served cached
    new = [int(re.search(r"(\d+) new", r["summary"]).group(1)) for r in (a, b)]
    assert sum(new) == N, (a["summary"], b["summary"])
    db = sqlite3.connect(tmp_path / "cache" / CACHE_FILE_NAME)
    assert db.execute("SELECT count(*) FROM predictions").fetchone()[0] == N
    assert db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0  # released at the end


def test_a_holder_killed_mid_run_is_taken_over_and_nothing_is_lost(tmp_path):
    with FakeServer(latency=0.2) as srv:
        holder = _child(srv, tmp_path, "a", 2, LMWRAPPER_CLAIM_LEASE_S="3")
        _wait(lambda: sum(_sent(srv).values()) >= 4, "the holder to send")
        other = _child(srv, tmp_path, "b", 2, LMWRAPPER_CLAIM_LEASE_S="3")
        _wait(lambda: (tmp_path / "b.ready").exists(), "the second process")
        started = sum(_sent(srv).values())
        # the holder goes on alone while the other waits for its claims
        _wait(lambda: sum(_sent(srv).values()) >= min(started + 20, N - 10) or holder.poll() is not None,
              "the holder to go on")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert holder.returncode == -signal.SIGKILL
        b = _result(tmp_path, "b", other)
        asked = _sent(srv)
    assert b["errors"] == [] and len(b["texts"]) == N and all(b["texts"])
    assert set(asked) == {f"item-{i}-end" for i in range(N)}
    # sent twice: at most what the holder had in flight (or answered, not yet stored) when killed
    twice = [k for k, n in asked.items() if n > 1]
    assert max(asked.values()) <= 2 and len(twice) <= 8, twice
    db = sqlite3.connect(tmp_path / "cache" / CACHE_FILE_NAME)
    assert db.execute("SELECT count(DISTINCT key) FROM predictions").fetchone()[0] == N


def _hold(keys, owner, expires_in):
    with get_cache().write() as c:
        c.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)",
                      [(k, owner, time.time() + expires_in) for k in keys])


def _keys(lm, prompts):
    from lmwrapper.batch_config import CompletionWindow
    from lmwrapper.engine.plan import Plan

    return Plan(lm, prompts, CompletionWindow.ASAP).keys


class Loop(ScriptedBackend):
    """Answers through its own loop (`_run`), as local models do, not through a live runner."""

    def live_runner(self):
        return None


class LoopLm(ScriptedLm):
    backend_class = Loop


@pytest.mark.parametrize("lm_class", [ScriptedLm, LoopLm], ids=["live-runner", "own-loop"])
def test_another_hosts_claim_is_waited_for_until_its_lease_lapses(monkeypatch, lm_class):
    monkeypatch.setenv("LMWRAPPER_CLAIM_POLL_S", "0.05")
    lm = lm_class()
    prompts = [LmPrompt(f"p{i}", temperature=0) for i in range(6)]
    lapses = time.time() + 1.0
    _hold(_keys(lm, prompts[:3]), FOREIGN, expires_in=1.0)
    got = [p.completion_text for p in lm.predict_many(prompts)]
    assert time.time() >= lapses  # the held three were not sent before their lease lapsed
    assert got == [f"echo: p{i}" for i in range(6)]
    assert sorted(lm.call_log) == [f"p{i}" for i in range(6)]  # then sent here


def _ours_claimed(keys):
    rows = get_cache()._conn.execute("SELECT key, owner FROM claims").fetchall()
    return {k for k, owner in rows if owner != FOREIGN} >= set(keys)


def test_an_answer_the_holder_stores_is_served_from_the_cache_not_sent(monkeypatch):
    monkeypatch.setenv("LMWRAPPER_CLAIM_POLL_S", "0.05")
    prompts = [LmPrompt(f"p{i}", temperature=0) for i in range(6)]
    lm = ScriptedLm(delay=0.05)
    keys = _keys(lm, prompts)
    _hold(keys[:3], FOREIGN, expires_in=600)
    it = lm.predict_many(prompts)
    _wait(lambda: _ours_claimed(keys[3:]), "the run to claim the free prompts")
    # the holder (another process, here played by hand) stores its answers
    answers = [ScriptedLm().predict(LmPrompt(f"p{i}", temperature=0, cache=False)) for i in range(3)]
    get_cache().put_many(lm.cache_row(k, a.evolve(sample_index=0), None)
                         for k, a in zip(keys, answers))
    got = list(it)
    assert [p.completion_text for p in got] == [f"echo: p{i}" for i in range(6)]
    assert sorted(lm.call_log) == ["p3", "p4", "p5"]
    assert [p.was_cached for p in got] == [True] * 3 + [False] * 3
    assert lm.last_run.cached == 3 and lm.last_run.new == 3


def test_a_run_waiting_on_another_owner_stops_at_once_and_releases_its_claims(monkeypatch):
    monkeypatch.setenv("LMWRAPPER_CLAIM_POLL_S", "0.05")
    prompts = [LmPrompt(f"p{i}", temperature=0) for i in range(4)]
    lm = ScriptedLm()
    keys = _keys(lm, prompts)
    _hold(keys[:2], FOREIGN, expires_in=600)
    it = lm.predict_many(prompts)
    _wait(lambda: "p3" in lm.call_log, "the free prompts to be sent")
    it.close()  # while two prompts are still held elsewhere: returns, nothing more is sent
    assert lm.last_run.state == "stopped early"
    owners = {o for (o,) in get_cache()._conn.execute("SELECT owner FROM claims")}
    assert owners == {FOREIGN}
    assert sorted(lm.call_log) == ["p2", "p3"]


FOREIGN = "elsewhere:1:-:x"  # an owner on another host: alive while its lease lasts


def test_a_fully_cached_run_writes_no_claims():
    prompts = [LmPrompt(f"p{i}", temperature=0) for i in range(50)]
    list(ScriptedLm().predict_many(prompts))
    cache = get_cache()
    statements: list[str] = []
    cache._conn.set_trace_callback(statements.append)
    try:
        assert all(p.was_cached for p in ScriptedLm().predict_many(prompts))
    finally:
        cache._conn.set_trace_callback(None)
    assert not [s for s in statements if "claims" in s or "BEGIN" in s.upper()], statements[:5]


HOLD_AND_HANG = textwrap.dedent("""
    import sys, time
    from lmwrapper.batch_config import CompletionWindow
    from lmwrapper.engine.plan import Plan
    from lmwrapper.store.claims import Lease
    from lmwrapper.store.db import get_cache
    from lmwrapper.structs import LmPrompt
    from lmwrapper.testing import ScriptedLm
    cache_dir, ready = sys.argv[1:3]
    lm = ScriptedLm(cache_dir=cache_dir)
    plan = Plan(lm, [LmPrompt(f"dead-{i}", temperature=0) for i in range(5)], CompletionWindow.ASAP)
    mine, held = Lease(get_cache(cache_dir)).take(plan.jobs)
    assert len(mine) == 5 and not held
    open(ready, "w").close()
    time.sleep(600)  # killed long before
""")


def test_cache_prune_drops_the_claims_of_a_sigkilled_process_only(tmp_path, cache_dir):
    """A real process claims 5 keys and is SIGKILLed; this process holds 2 live claims and
    another host 1: `cache stats` tells them apart, `cache prune` drops the dead 5 only."""
    from lmwrapper.store.claims import Lease

    ready = tmp_path / "child.ready"
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1])}
    child = subprocess.Popen([sys.executable, "-c", HOLD_AND_HANG, str(cache_dir), str(ready)],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: ready.exists() or child.poll() is not None, "the child to claim")
        assert child.poll() is None, child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    lm = ScriptedLm()
    lease = Lease(get_cache())
    mine, _ = lease.take(Plan(lm, [LmPrompt(f"live-{i}", temperature=0) for i in range(2)],
                              CompletionWindow.ASAP).jobs)
    assert len(mine) == 2
    _hold(["foreign-key"], FOREIGN, expires_in=600)
    try:
        cli = [sys.executable, "-m", "lmwrapper", "cache"]
        stats = subprocess.run([*cli, "stats", "--json"], check=False, capture_output=True, text=True, env=env)
        assert json.loads(stats.stdout)["claims"] == {"live": 3, "dead": 5}, stats.stderr
        out = subprocess.run([*cli, "prune"], check=False, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        assert "dropped 5 claims" in out.stdout and "kept 3" in out.stdout
        owners = collections.Counter(o for (o,) in get_cache().query("SELECT owner FROM claims"))
        assert owners == {lease.owner: 2, FOREIGN: 1}
    finally:
        lease.close()
