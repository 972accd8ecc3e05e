"""A fully cached rerun does a fixed amount of work per prompt, whatever the run's size.

Not a timing test: it counts what SQLite is asked to do (statements, through the connection's
trace callback; virtual-machine instructions, through its progress handler, a count of the
b-tree work that does not depend on the machine) and what lmwrapper does per prompt (one
canonical encoding each), for 1,000 and 10,000 prompts. Something that grows faster than the
prompts (a statement per key, a scan per chunk, a key encoded twice) shows up as a ratio.
"""

from __future__ import annotations

import pytest

from lmwrapper import LmPrompt
from lmwrapper.store import db, keys
from lmwrapper.testing import ScriptedLm

STEP = 100  # the progress handler is called every STEP virtual-machine instructions


def _prompts(n: int) -> list[LmPrompt]:
    return [LmPrompt(f"prompt number {i}", max_tokens=10) for i in range(n)]


def _rerun(tmp_path, n: int, monkeypatch) -> dict[str, int]:
    """Fill a cache with `n` prompts, then count what a fully cached rerun does."""
    lm = ScriptedLm(answer=lambda p, i: "ok", cache_dir=str(tmp_path / f"c{n}"))
    assert sum(1 for _ in lm.predict_many(_prompts(n))) == n
    counts = {"statements": 0, "writes": 0, "vm_steps": 0, "encodings": 0}
    statements: list[str] = []

    def traced(sql: str) -> None:
        statements.append(sql)

    def step() -> int:
        counts["vm_steps"] += STEP
        return 0  # 0: carry on

    encode = keys.canonical_json

    def counted(p: LmPrompt) -> str:
        counts["encodings"] += 1
        return encode(p)

    conn = lm.cache._conn
    again = _prompts(n)
    with monkeypatch.context() as m:
        m.setattr("lmwrapper.engine.plan.canonical_json", counted)
        conn.set_trace_callback(traced)
        conn.set_progress_handler(step, STEP)
        try:
            got = list(lm.predict_many(again))
        finally:
            conn.set_trace_callback(None)
            conn.set_progress_handler(None, STEP)
    assert len(got) == n and all(p.was_cached for p in got) and len(lm.call_log) == n
    assert all(p.prompt is q for p, q in zip(got, again))  # in input order, labelled
    counts["statements"] = len(statements)
    counts["writes"] = sum(1 for s in statements
                           if s.split()[0].upper() in {"INSERT", "UPDATE", "DELETE", "BEGIN"})
    return counts


def test_a_cached_rerun_does_the_same_work_per_prompt_at_any_size(tmp_path, monkeypatch):
    small, large = _rerun(tmp_path, 1_000, monkeypatch), _rerun(tmp_path, 10_000, monkeypatch)
    # one lookup statement for each (both under one chunk of keys), nothing written
    assert small["statements"] == large["statements"] == 1
    assert small["writes"] == large["writes"] == 0
    # each prompt encoded once, never again (no second encoding for the writer or the summary)
    assert small["encodings"] == 1_000 and large["encodings"] == 10_000
    # SQLite's own work per prompt stays flat: a key's row is found by one b-tree seek, and
    # the keys walk the tree in order (a scan or a statement per key would grow this)
    per_small, per_large = small["vm_steps"] / 1_000, large["vm_steps"] / 10_000
    assert per_large <= 1.2 * per_small, (per_small, per_large)
    assert per_large < 50  # a handful of instructions per row, not a walk of the table


def test_the_lookup_is_one_statement_per_chunk_of_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "_LOOKUP_CHUNK", 300)
    counts = _rerun(tmp_path, 1_000, monkeypatch)
    assert counts["statements"] == 4  # ceil(1000 / 300): linear in the keys, not in their square
    assert counts["writes"] == 0


@pytest.mark.parametrize("n", [1, 3])
def test_twins_and_samples_are_read_once_per_key(tmp_path, monkeypatch, n):
    """Twins (one key, several prompts) cost one lookup row per stored sample, not per twin."""
    lm = ScriptedLm(cache_dir=str(tmp_path))
    base = LmPrompt("same", max_tokens=5, num_completions=n)
    list(lm.predict_many([base]))
    statements: list[str] = []
    lm.cache._conn.set_trace_callback(statements.append)
    try:
        got = list(lm.predict_many([LmPrompt("same", max_tokens=5, num_completions=n,
                                             metadata=i) for i in range(50)]))
    finally:
        lm.cache._conn.set_trace_callback(None)
    assert len(statements) == 1 and len(lm.call_log) == n
    assert [g[0].prompt.metadata for g in got] == list(range(50))
    assert all(len(g) == n and all(s.was_cached for s in g) for g in got)


def test_lookups_are_bulk_not_per_prompt():
    list(ScriptedLm().predict_many([LmPrompt(f"q{i}") for i in range(3000)]))
    cache = db.get_cache()
    statements = []
    cache._conn.set_trace_callback(statements.append)
    try:
        list(ScriptedLm().predict_many([LmPrompt(f"q{i}") for i in range(5000)]))
    finally:
        cache._conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2, selects[:5]
