"""A cached row read back: its usage made an `LmUsage` when first read, its values decoded in
bulk, and a damaged row failing on its own prompt only."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sqlite3

import pytest

from lmwrapper import LmPrediction, LmPrompt, LmUsage
from lmwrapper.store.rows import records
from lmwrapper.testing import ScriptedLm


def _answer(p: LmPrompt, i: int) -> str:
    return f"answer {p.text}"


def _cached(tmp_path, n: int = 3) -> tuple[ScriptedLm, list[LmPrediction], list[LmPrediction]]:
    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path))
    prompts = [LmPrompt(f"q{i}", max_tokens=5) for i in range(n)]
    fresh = list(lm.predict_many(prompts))
    again = list(lm.predict_many([LmPrompt(f"q{i}", max_tokens=5) for i in range(n)]))
    return lm, fresh, again


def test_a_cached_usage_reads_as_the_usage_that_was_stored(tmp_path):
    _, fresh, again = _cached(tmp_path)
    for f, a in zip(fresh, again):
        assert a.was_cached and not f.was_cached
        # to_dict before and after the usage is first read: the same, key order included
        for _ in range(2):
            assert list(a.to_dict()["usage"].items()) == list(f.to_dict()["usage"].items())
            assert isinstance(a.usage, LmUsage) and a.usage == f.usage
        assert a.usage is a.usage  # made once, then kept
        assert a == dataclasses.replace(f, was_cached=True)


@pytest.mark.parametrize("stored", [[3, 1, None], [3, 1, 0, 7], [3, 1, 0, None, 2]])
def test_every_stored_usage_shape_reads_back(stored):
    """Rows keep 3, 4 or 5 counts (older rows fewer): the missing ones are None."""
    record = {"completion_text": "x", "usage": stored}
    pred = LmPrediction.from_cache_record(record, LmPrompt("q"))
    want = LmUsage(*stored)
    assert pred.to_dict()["usage"] == dataclasses.asdict(want)
    assert pred.usage == want


def test_a_cached_prediction_copies_pickles_and_compares_before_its_usage_is_read(tmp_path):
    _, fresh, again = _cached(tmp_path)
    for f, a in zip(fresh, again):
        for other in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a), a.evolve(sample_index=0)):
            assert other.usage == f.usage and isinstance(other.usage, LmUsage)
        assert hash(a) == hash(dataclasses.replace(f, was_cached=True))
        assert a.cache_record() == f.cache_record()


def test_a_new_prediction_keeps_the_usage_it_was_given():
    u = LmUsage(3, 1, 0)
    pred = LmPrediction("x", LmPrompt("q"), usage=u)
    assert pred.usage is u
    assert LmPrediction("x", LmPrompt("q")).usage == LmUsage()
    with pytest.raises(dataclasses.FrozenInstanceError):
        pred.usage = LmUsage()  # type: ignore[misc]


def test_values_are_decoded_in_one_parse_or_not_at_all():
    assert records(['{"a":1}', '{"b":[2,3]}']) == [{"a": 1}, {"b": [2, 3]}]
    assert records([]) == []
    assert records(['{"a":1}', '{"b":']) is None  # damaged: each is decoded alone
    assert records(['{"a":1},{"b":2}']) is None  # two values in one row: not one each


def test_a_damaged_row_fails_its_own_prompt_and_the_others_are_served(tmp_path):
    lm, fresh, _ = _cached(tmp_path, n=5)
    conn = sqlite3.connect(lm.cache.path)  # another connection: the cache stays open
    key = min(conn.execute("SELECT key FROM predictions"))[0]
    conn.execute("UPDATE predictions SET value = '{\"completion_text\":' WHERE key = ?", (key,))
    conn.commit()
    conn.close()
    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path))  # the same model: the same keys
    results = lm.predict_many([LmPrompt(f"q{i}", max_tokens=5) for i in range(5)])
    served = []
    with pytest.raises(ValueError):
        for r in results:
            served.append(r.completion_text)
    # every prompt before the damaged one was handed out, from the cache
    assert served == [f.completion_text for f in fresh[: len(served)]]
    assert not lm.call_log
