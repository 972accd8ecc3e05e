"""Constrained decoding of `response_format` on local models (llguidance).

The tiny GPT-2 has random weights: left alone it never writes JSON, so a valid answer
shows that the grammar chose its tokens. The schemas keep answers short (booleans, enums,
bounded integers) so they fit its 128-token context.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from lmwrapper.structs import LmPrompt

needs_llguidance = pytest.mark.skipif(importlib.util.find_spec("llguidance") is None,
                                      reason="needs the structured extra (llguidance)")


class Light(BaseModel):
    on: bool
    color: Literal["red", "green", "blue"]


SCHEMA = {"type": "object", "additionalProperties": False, "required": ["n", "flag"],
          "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99},
                         "flag": {"type": "boolean"}}}


@needs_llguidance
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_pydantic_class_answer_parses(tiny_lm, temperature):
    preds = list(tiny_lm.predict_many([
        LmPrompt(f"light {i}:", max_tokens=40, temperature=temperature, seed=i,
                 response_format=Light) for i in range(3)]))
    for pred in preds:
        assert not pred.has_errors, pred.error_message
        assert isinstance(pred.parsed, Light)
        assert pred.finish_reason == "stop"
        assert Light.model_validate_json(pred.completion_text) == pred.parsed


@needs_llguidance
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_schema_dict_answer_validates(tiny_lm, temperature):
    pred = tiny_lm.predict(LmPrompt("numbers:", max_tokens=40, temperature=temperature, seed=3,
                                    response_format=SCHEMA))
    assert not pred.has_errors, pred.error_message
    value = json.loads(pred.completion_text)
    assert set(value) == {"n", "flag"}
    assert isinstance(value["n"], int) and 0 <= value["n"] <= 99
    assert isinstance(value["flag"], bool)


@needs_llguidance
def test_json_object_answer_is_an_object(tiny_lm):
    pred = tiny_lm.predict(LmPrompt("obj:", max_tokens=60, response_format="json_object"))
    if pred.finish_reason == "length":  # an object can be long; it must still be JSON so far
        assert pred.completion_text.startswith("{")
    else:
        assert isinstance(json.loads(pred.completion_text), dict)


@needs_llguidance
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_unconstrained_neighbour_is_unchanged(tiny_lm, temperature):
    plain = LmPrompt("The capital of", max_tokens=12, temperature=temperature, seed=5)
    alone = tiny_lm.predict(plain)
    constrained = LmPrompt("The capital of", max_tokens=40, temperature=temperature, seed=6,
                           response_format=Light)
    both = list(tiny_lm.predict_many([plain, constrained]))  # batch_size 4: one batch
    assert both[0].completion_tokens == alone.completion_tokens
    assert both[0].completion_logprobs == pytest.approx(alone.completion_logprobs, abs=1e-4)
    assert isinstance(both[1].parsed, Light)


@needs_llguidance
def test_constrained_rows_are_refilled_like_the_others(tiny_lm):
    """Two rows at a time over five prompts: a constrained row that joins a running batch
    (continuous batching) gets its own matcher and gives what it gives alone."""
    prompts = [LmPrompt(f"light {i}:", max_tokens=40, temperature=1.0, seed=i,
                        response_format=Light) if i % 2 == 0
               else LmPrompt("The capital of", max_tokens=2 + i, temperature=0)
               for i in range(5)]
    alone = [tiny_lm.predict(p) for p in prompts]
    two = list(tiny_lm.with_settings(batch_size=2).predict_many(prompts))
    for a, b in zip(alone, two):
        assert b.completion_tokens == a.completion_tokens
        assert b.completion_logprobs == pytest.approx(a.completion_logprobs, abs=1e-4)
    assert all(isinstance(two[i].parsed, Light) for i in (0, 2, 4))


@needs_llguidance
def test_cached_rerun_returns_parsed(cached_tiny):
    prompt = LmPrompt("light:", max_tokens=40, response_format=Light)
    first = cached_tiny.predict(prompt)
    again = cached_tiny.predict(prompt)
    assert again.was_cached
    assert isinstance(again.parsed, Light) and again.parsed == first.parsed


def test_missing_llguidance_is_a_configuration_error_with_the_install_hint(tiny_dir):
    code = (
        "import sys; sys.modules['llguidance'] = None\n"
        "from lmwrapper.core.errors import ConfigurationError\n"
        "from lmwrapper.huggingface_wrapper import get_huggingface_lm\n"
        "from lmwrapper.structs import LmPrompt\n"
        f"lm = get_huggingface_lm({str(tiny_dir)!r}, device='cpu', cache_default=False)\n"
        "try:\n"
        "    lm.predict(LmPrompt('x', max_tokens=5, response_format='json_object'))\n"
        "except ConfigurationError as e:\n"
        "    print('REFUSED', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=False)
    assert "REFUSED" in out.stdout, out.stderr
    assert "pip install 'lmwrapper[structured]'" in out.stdout


class City(BaseModel):
    # Bounded strings: the grammar must close each one, so the answer ends within max_tokens
    # whichever way a near tie falls (an unbounded string can run to the limit).
    name: str = Field(max_length=24)
    country: str = Field(max_length=24)


@needs_llguidance
@pytest.mark.slow
def test_smollm2_city_parses(smol_lm):
    pred = smol_lm.predict(LmPrompt(
        "What is the capital of France? Answer in JSON with name and country.",
        max_tokens=80, response_format=City))
    assert not pred.has_errors, pred.error_message
    assert pred.finish_reason == "stop"
    assert isinstance(pred.parsed, City)  # content varies: a near tie flips on some runs
    assert City.model_validate_json(pred.completion_text) == pred.parsed
