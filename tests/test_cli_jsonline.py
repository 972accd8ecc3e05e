"""`lmwrapper run`'s line encoder writes json's own text and raises json's own errors."""

from __future__ import annotations

import json
import math

import pytest

from lmwrapper.cli.jsonline import encode_line

RECORDS = [
    {"index": 0, "id": "q0", "completion_text": "1", "error_message": None, "was_cached": True,
     "completion_logprobs": [-0.25], "top_token_logprobs": [{"1": -0.25}], "cost_usd": 2.4e-06,
     "usage": {"prompt_tokens": 12, "completion_tokens": 1, "reasoning_tokens": None}},
    {"index": 1, "label": "caf\u00e9 \u2603 \U0001f600", "text": "tab\t\"quote\"\\ \u0000 \u2028"},
    {"index": 2, "n": [0, -1, 10**30, 1e300, -0.0, 0.1, 1 / 3, math.inf, -math.inf]},
    {"index": 3, "nested": [[[]], {}, {"a": [{"b": None}]}], "empty": ""},
    {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
]


@pytest.mark.parametrize("record", RECORDS)
def test_same_text_as_json(record: dict) -> None:
    assert encode_line(record) == json.dumps(record, ensure_ascii=False)


def test_nan_as_json_writes_it() -> None:
    assert encode_line({"x": math.nan}) == json.dumps({"x": math.nan}, ensure_ascii=False)


def test_same_errors_and_usable_after_them() -> None:
    loop: dict = {"a": 1}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference"):
        encode_line({"outer": [loop]})
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_line({"outer": {"s": {1, 2}}})
    shared = [1, 2]  # the same list twice is not a cycle, also after an error above
    assert encode_line({"a": shared, "b": shared}) == '{"a": [1, 2], "b": [1, 2]}'


def test_too_deep_to_encode_is_jsons_own_error() -> None:
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        json.dumps(deep, ensure_ascii=False)
    with pytest.raises(RecursionError):
        encode_line({"x": deep})
    assert encode_line({"x": [[1]]}) == '{"x": [[1]]}'
