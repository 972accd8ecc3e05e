"""The reasoning fields as values: what `LmPrompt` accepts (the union of the SDKs' literals),
and how `reasoning` and `reasoning_tokens` go through the cache's row codec (older rows load)."""

import typing

import pytest

from lmwrapper import LmPrediction, LmPrompt, LmUsage
from lmwrapper.core.prompt import REASONING_EFFORTS, THINKING_MODES


def _literal(tp):
    if typing.get_origin(tp) is typing.Literal:
        return set(typing.get_args(tp))
    return {v for a in typing.get_args(tp) for v in _literal(a)}


def test_the_efforts_are_the_union_of_the_sdks_literals():
    from anthropic.types.output_config_param import OutputConfigParam
    from anthropic.types.thinking_config_adaptive_param import ThinkingConfigAdaptiveParam
    from anthropic.types.thinking_config_disabled_param import ThinkingConfigDisabledParam
    from openai.types.shared.reasoning_effort import ReasoningEffort

    claude = _literal(typing.get_type_hints(OutputConfigParam)["effort"])
    assert set(REASONING_EFFORTS) == _literal(ReasoningEffort) | claude
    assert set(THINKING_MODES) == (_literal(typing.get_type_hints(ThinkingConfigAdaptiveParam)["type"])
                                   | _literal(typing.get_type_hints(ThinkingConfigDisabledParam)["type"]))


@pytest.mark.parametrize(("field", "value"), [
    ("reasoning_effort", "ultra"), ("reasoning_effort", "HIGH"), ("verbosity", "max"),
    ("thinking", "enabled"), ("thinking", 1023), ("thinking", True), ("thinking", 2048.0)])
def test_a_value_no_provider_takes_is_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"^LmPrompt\.{field} must be"):
        LmPrompt("q", **{field: value})


def test_the_fields_survive_to_dict_and_from_dict():
    p = LmPrompt("q", reasoning_effort="xhigh", verbosity="low", thinking=4096)
    assert LmPrompt.from_dict(p.to_dict()) == p
    assert p.to_dict(defaults=False) == {"text": "q", "reasoning_effort": "xhigh",
                                         "verbosity": "low", "thinking": 4096}


def test_the_row_codec_keeps_reasoning_and_reads_older_rows():
    p = LmPrompt("q")
    pred = LmPrediction("4", p, usage=LmUsage(10, 90, 0, None, 80), reasoning="2+2 is 4")
    record = pred.cache_record()
    assert record["usage"] == [10, 90, 0, None, 80] and record["reasoning"] == "2+2 is 4"
    back = LmPrediction.from_cache_record(record, p)
    assert (back.usage, back.reasoning, back.was_cached) == (pred.usage, "2+2 is 4", True)
    assert LmPrediction.from_dict(pred.to_dict()).usage.reasoning_tokens == 80
    # rows written before reasoning tokens: three or four usage entries, no reasoning
    for old in ([10, 5, 0], [10, 5, 0, 3]):
        row = LmPrediction.from_cache_record({"completion_text": "4", "usage": old}, p)
        assert row.usage.reasoning_tokens is None and row.reasoning is None
    plain = LmPrediction("4", p, usage=LmUsage(10, 5, 0)).cache_record()
    assert plain["usage"] == [10, 5, 0] and "reasoning" not in plain  # as before

