"""A prediction's answer read against its prompt's response format: `.parsed`, or an error.

Apart from `structured.py` because it needs the prediction, and the prediction's module
(`prompt.py`) needs `structured.py`'s schema helpers: the helpers stay a leaf.
"""

from __future__ import annotations

from lmwrapper.core.prompt import LmPrediction
from lmwrapper.core.structured import is_schema_class, parse_answer, wants_json


def finish(pred: LmPrediction) -> LmPrediction:
    """`pred` with `.parsed` set, or turned into an error prediction saying why it is not
    valid. Predictions without a JSON response format (or with errors) pass unchanged."""
    rf = pred.prompt.response_format
    if not wants_json(rf) or pred.has_errors:
        return pred
    value, problem = parse_answer(pred.completion_text, rf)
    if problem is None:
        return pred.evolve(parsed=value)
    name = getattr(rf, "__name__", "JSON") if is_schema_class(rf) else "JSON"
    hint = ("the answer was cut at max_tokens; raise max_tokens" if pred.finish_reason == "length"
            else "ask for JSON in the prompt (show the fields), or use a model with a JSON mode")
    return pred.evolve(error_message=f"response_format {name}: {problem}. Fix: {hint}.")
