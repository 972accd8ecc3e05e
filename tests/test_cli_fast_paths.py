"""The fast paths of a cached `lmwrapper run` give what the long ways give: `prompt_of` the
constructor's prompt (and errors), `cache_dict_reader` the prediction's `to_dict`, and
`Results.dicts()` the predictions' dicts, in order (cli/run.py, core/prompt.py)."""

from __future__ import annotations

import json

import pytest

from lmwrapper import LmChatTurn, LmPrediction, LmPrompt
from lmwrapper.core.prompt import cache_dict_reader, cache_reader, prompt_of
from lmwrapper.testing import ScriptedLm

FIELDS = [
    {"text": "hi"},
    {"text": "hi", "max_tokens": 5, "metadata": {"label": "4"}},
    {"text": ["a", "b", "c"], "max_tokens": 3},
    {"text": [LmChatTurn("system", "s"), {"role": "user", "content": "u"}]},
    {"text": "x", "stop": "\n", "temperature": 0, "top_p": 1, "presence_penalty": 1},
    {"text": "x", "stop": ["a", "b"], "logprobs": 0, "num_completions": 3, "seed": 7},
    {"text": "x", "max_tokens": None, "cache": False, "echo": True, "add_bos_token": True},
    {"text": "x", "response_format": {"type": "object"}, "reasoning_effort": "low",
     "verbosity": "high", "thinking": 2048},
    {"text": "abc", "context_split": 1, "token_slice": [0, 2], "add_special_tokens": False},
    {"text": "x", "top_p": None},  # 0.18's top_p=None: its adapter runs, as in __init__
    {"text": "x", "max_completion_tokens": 9},  # an InitVar: the constructor itself
]
BAD = [
    {"text": "x", "max_tokens": 0},
    {"text": "x", "temperature": 3},
    {"text": "x", "max_tokens": True},
    {"text": b"bytes"},
    {"text": {"role": "user"}},
    {"text": "x", "stop": [""]},
    {"text": "x", "reasoning_effort": "huge"},
    {"text": "x", "not_a_field": 1},
    {"max_tokens": 5},
]


@pytest.mark.parametrize("fields", FIELDS)
def test_prompt_of_is_the_constructors_prompt(fields):
    made, built = prompt_of(dict(fields)), LmPrompt(**fields)
    assert made == built and type(made) is LmPrompt
    assert made.__dict__ == built.__dict__ and list(made.__dict__) == list(built.__dict__)
    assert made.metadata == built.metadata and made.stop_mode == built.stop_mode


@pytest.mark.parametrize("fields", BAD)
def test_prompt_of_refuses_what_the_constructor_refuses(fields):
    with pytest.raises((TypeError, ValueError)) as want:
        LmPrompt(**fields)
    with pytest.raises(type(want.value)) as got:
        prompt_of(dict(fields))
    assert str(got.value) == str(want.value)


RECORDS = [
    {"completion_text": "4"},
    {"completion_text": "4", "finish_reason": "stop", "completion_tokens": ["4"],
     "completion_logprobs": [-0.25], "top_token_logprobs": [{"4": -0.25, ",": -3.5}],
     "cost_usd": 2.4e-06, "request_id": "r1", "usage": [12, 1, 0]},
    {"completion_text": None, "error_message": "refused", "usage": [3, 1, None, 7]},
    {"completion_text": "x", "usage": [3, 1, 0, None, 2], "reasoning": "", "provider": None},
    {"completion_text": "x", "prompt_tokens": ["a"], "prompt_logprobs": [None],
     "prompt_top_logprobs": [None], "was_cached": False, "sample_index": 0, "batch_id": "b"},
    {"completion_text": "x", "model": "other", "error_is_transient": True},
]
ODD = [
    {"completion_text": "x", "usage": None},  # the long way raises: so does the run
    {"completion_text": "x", "usage": {"prompt_tokens": 1}},
    {"completion_text": "x", "usage": [1, 2, 3, 4, 5, 6]},
    {"completion_text": "x", "internals": [1]},
    {"completion_text": "x", "parsed": {"a": 1}},
    {"completion_text": "x", "a_later_field": 1},
]


@pytest.mark.parametrize("defaults", [None, {"provider": "openai", "model": "gpt-4o-mini"}])
@pytest.mark.parametrize("record", RECORDS)
def test_a_stored_record_shown_as_its_predictions_dict(record, defaults):
    """Key order included, and the JSON byte for byte (lists for the prediction's tuples)."""
    stored = json.loads(json.dumps(record))
    want = cache_reader(defaults)(json.loads(json.dumps(record)), LmPrompt("q")).to_dict(
        include_prompt=False)
    got = cache_dict_reader(defaults)(stored)
    assert got is not None and list(got) == list(want)
    assert json.dumps(got) == json.dumps(want)
    assert got["usage"] is not cache_dict_reader(defaults)(dict(stored))["usage"]


@pytest.mark.parametrize("record", ODD)
def test_a_record_of_another_shape_goes_the_long_way(record):
    assert cache_dict_reader()(record) is None


def _answer(p: LmPrompt, i: int) -> str:
    return f"{p.text} #{i}"


def test_dicts_are_the_predictions_dicts_cached_or_not(tmp_path):
    prompts = [LmPrompt("a", max_tokens=3), LmPrompt("b", max_tokens=3, num_completions=2),
               LmPrompt("a", max_tokens=3, metadata={"m": 1}),
               LmPrompt("c", max_tokens=3, temperature=0.0, num_completions=2),
               LmPrompt("d", max_tokens=3, response_format="json_object")]

    def shown(results):
        return [[x.to_dict(include_prompt=False) for x in r] if isinstance(r, list)
                else r.to_dict(include_prompt=False) for r in results]

    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path), cost_per_call=0.5)
    fresh = lm.predict_many(prompts).dicts()  # answered now: from the predictions
    assert json.dumps(list(fresh)) == json.dumps(shown(ScriptedLm(
        answer=_answer, cache_dir=str(tmp_path / "other"), cost_per_call=0.5)
        .predict_many(prompts)))
    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path), cost_per_call=0.5)
    as_dicts, as_predictions = lm.predict_many(prompts), lm.predict_many(prompts)
    cached = list(as_dicts.dicts())
    assert json.dumps(cached) == json.dumps(shown(as_predictions)) and not lm.call_log
    assert as_dicts.summary.cached == as_predictions.summary.cached == len(prompts)
    assert as_dicts.summary.saved_usd == as_predictions.summary.saved_usd > 0
    assert cached[4]["error_message"]  # "d #0" is not JSON: the parsed answer's error, kept


def test_dicts_are_asked_for_before_the_first_answer(tmp_path):
    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path))
    results = lm.predict_many([LmPrompt("a", max_tokens=3), LmPrompt("b", max_tokens=3)])
    assert isinstance(next(results), LmPrediction)
    with pytest.raises(RuntimeError, match="before the first"):
        results.dicts()
    results.close()


def test_a_damaged_row_fails_its_own_line_in_dicts_too(tmp_path):
    import sqlite3

    prompts = [LmPrompt(f"q{i}", max_tokens=5) for i in range(5)]
    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path))
    fresh = list(lm.predict_many(prompts))
    conn = sqlite3.connect(lm.cache.path)
    key = min(conn.execute("SELECT key FROM predictions"))[0]
    conn.execute("UPDATE predictions SET value = '{\"completion_text\":' WHERE key = ?", (key,))
    conn.commit()
    conn.close()
    lm = ScriptedLm(answer=_answer, cache_dir=str(tmp_path))
    served = []
    with pytest.raises(ValueError):
        for d in lm.predict_many(prompts).dicts():
            served.append(d["completion_text"])
    assert served == [f.completion_text for f in fresh[: len(served)]]
    assert not lm.call_log
