"""A local model has no reasoning effort, verbosity or thinking switch: refused, not dropped."""

import pytest

from lmwrapper.structs import LmPrompt


@pytest.mark.parametrize(("field", "value"), [("reasoning_effort", "high"),
                                              ("verbosity", "low"), ("thinking", "adaptive")])
def test_the_reasoning_fields_are_refused_before_anything_runs(tiny_lm, field, value):
    with pytest.raises(ValueError, match=rf"LmPrompt\.{field} cannot be honoured by .*{field}=None"):
        tiny_lm.predict(LmPrompt("hello", max_tokens=2, **{field: value}))
