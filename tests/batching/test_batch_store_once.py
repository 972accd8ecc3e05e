"""The batch engine stores each answer once: the collector writes the rows (with their
prompts) in the transaction that marks the lines done, and the engine does not write them
again. A SQLite trigger on the real cache file counts the writes."""

from __future__ import annotations

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt


def count_inserts(cache):
    with cache._lock:
        cache._conn.executescript(
            "CREATE TABLE IF NOT EXISTS test_inserts (key TEXT);"
            "CREATE TRIGGER IF NOT EXISTS test_count AFTER INSERT ON predictions "
            "BEGIN INSERT INTO test_inserts VALUES (new.key); END;")

    def inserts():
        with cache._lock:
            return dict(cache._conn.execute(
                "SELECT key, count(*) FROM test_inserts GROUP BY key").fetchall())

    return inserts


def test_each_batch_answer_is_written_once_with_its_prompt(srv, make_lm):
    lm = make_lm()
    inserts = count_inserts(lm.cache)
    prompts = [LmPrompt(f"q{i}", max_tokens=5, temperature=0) for i in range(4)]
    preds = list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))
    assert all(p.completion_text and not p.was_cached for p in preds)
    written = inserts()
    assert len(written) == 4 and set(written.values()) == {1}, written
    with lm.cache._lock:
        stored_prompts = lm.cache._conn.execute(
            "SELECT count(*) FROM prompts WHERE key IN (SELECT key FROM predictions)").fetchone()[0]
    assert stored_prompts == 4  # `cache show` can still say what each row answered
    again = list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))
    assert all(p.was_cached for p in again) and inserts() == written


def test_a_cache_false_prompt_in_a_batch_is_answered_and_never_stored(srv, make_lm):
    lm = make_lm()
    inserts = count_inserts(lm.cache)
    prompts = [LmPrompt("kept", max_tokens=5, temperature=0),
               LmPrompt("not kept", max_tokens=5, temperature=0, cache=False)]
    preds = list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))
    assert all(p.completion_text for p in preds)
    assert len(inserts()) == 1  # only the cached prompt's row; no "nocache:" row
    assert lm.cache.stats()["rows"] == 1
