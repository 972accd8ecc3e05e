"""The `prompts` table: each prompt stored once per key, with its rows, readable back."""

import json
import sqlite3

import pytest

from lmwrapper.store.db import CacheRow, SqlCache, get_cache
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedLm


def test_each_prompt_is_stored_once_per_key_without_metadata():
    lm = ScriptedLm()
    prompts = [LmPrompt("two plus two?", num_completions=3, temperature=1.0, metadata={"gold": 4}),
               LmPrompt([{"role": "system", "content": "Be brief."}, "hi"], max_tokens=5)]
    list(lm.predict_many(prompts))
    rows = list(lm.cache.export_rows())
    assert len(rows) == 4
    with sqlite3.connect(lm.cache.path) as c:
        assert c.execute("SELECT count(*) FROM prompts").fetchone()[0] == 2
    by_text = {json.dumps(r["prompt"]["text"], sort_keys=True): r["prompt"] for r in rows}
    first = by_text['"two plus two?"']
    assert first == {"kind": "text", "text": "two plus two?"}  # defaults left out; no metadata
    chat = by_text[json.dumps(prompts[1].canonical()["text"], sort_keys=True)]
    assert chat == {k: prompts[1].canonical()[k] for k in ("kind", "text", "max_tokens")}


def test_prompt_is_written_in_the_same_transaction_as_its_rows(cache_dir):
    cache = get_cache()
    with cache.write() as c:  # a prompt that cannot be stored must take its rows with it
        c.execute("CREATE TRIGGER no_prompts BEFORE INSERT ON prompts "
                  "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    row = CacheRow("k1", 0, "scripted", "m", False, '{"completion_text":"x"}', None, '{"text":"q"}')
    with pytest.raises(sqlite3.IntegrityError):
        cache.put_many([row])
    assert cache.stats()["rows"] == 0


def test_an_old_cache_file_keeps_working_and_shows_no_prompt(cache_dir):
    lm = ScriptedLm()
    lm.enqueue("the answer")
    list(lm.predict_many(["asked before"]))
    with lm.cache.write() as c:  # the file as lmwrapper wrote it before the `prompts` migration
        c.execute("DROP TABLE prompts")
        c.execute("DELETE FROM _migrations WHERE name = '0003_prompts'")
    SqlCache(lm.cache.path).close()  # the next open migrates it: the table is back, empty
    again = ScriptedLm()  # the same identity (another answer function would be another model)
    again.enqueue("must not be asked")
    pred = again.predict("asked before")
    assert pred.was_cached and pred.completion_text == "the answer" and again.call_log == []
    (row,) = again.cache.export_rows()
    assert row["prompt"] is None and row["prediction"]["completion_text"] == "the answer"


def test_recent_rows_filter_by_model_text_and_errors():
    from lmwrapper import PermanentProviderError

    list(ScriptedLm("model-a").predict_many(["What is the capital of France?", "2+2?"]))
    b = ScriptedLm("model-b")
    b.enqueue(PermanentProviderError("prompt too long"))
    list(b.predict_many(["a very long question", "100% sure_thing"]))
    cache = get_cache()
    assert [r["model"] for r in cache.recent_rows(n=10)][:2] == ["model-b", "model-b"]
    assert len(cache.recent_rows(n=10, model="model-a")) == 2
    (hit,) = cache.recent_rows(n=10, search="FRANCE")
    assert hit["prompt"]["text"] == "What is the capital of France?"
    (err,) = cache.recent_rows(n=10, errors_only=True)
    assert err["prediction"]["error_message"] == "prompt too long"
    assert [r["prompt"]["text"] for r in cache.recent_rows(n=10, search="0% s")] == [
        "100% sure_thing"]
    assert cache.recent_rows(n=10, search="e_t") and not cache.recent_rows(n=10, search="max_")
    assert len(cache.recent_rows(n=10, search="TOO LONG")) == 1  # errors are searched too
    assert len(cache.recent_rows(n=1)) == 1


def test_cache_merge_brings_the_prompts_along(tmp_path):
    from lmwrapper.tools.sharding import merge_caches

    for shard in ("a", "b"):
        list(ScriptedLm(cache_dir=str(tmp_path / shard)).predict_many([f"from {shard}"]))
    merge_caches([tmp_path / "a", tmp_path / "b"], tmp_path / "all", progress=False)
    merged = SqlCache(tmp_path / "all" / "lmwrapper.sqlite")
    assert sorted(r["prompt"]["text"] for r in merged.export_rows()) == ["from a", "from b"]
    merged.close()


def test_rows_are_stored_whatever_their_order_and_the_later_of_two_for_one_sample_wins(cache_dir):
    """Rows are inserted in key order (fast on the clustered tables), by a stable sort: two
    rows for one sample in one write keep their order, so the later still replaces the
    earlier (a sort on whole rows would let the smaller value win)."""
    cache = get_cache()
    rows = [CacheRow(k, i, "p", "m", False, f'{{"completion_text":"{k}{i}"}}', None, f'{{"text":"{k}"}}')
            for k in ("kz", "ka", "km") for i in (1, 0)]
    rows += [CacheRow("kb", 0, "p", "m", False, '{"completion_text":"z-earlier"}'),
             CacheRow("kb", 0, "p", "m", False, '{"completion_text":"a-later"}')]
    cache.put_many(iter(rows))  # any iterable, read once
    got = {(k, idx): json.loads(v)["completion_text"]
           for k, found in cache.get_many(["ka", "kb", "km", "kz"]).items() for idx, v, _, _ in found}
    assert got == {**{(k, i): f"{k}{i}" for k in ("kz", "ka", "km") for i in (0, 1)},
                   ("kb", 0): "a-later"}
    assert [r["prompt"] for r in cache.export_rows() if r["key"] == "km"] == [{"text": "km"}] * 2
