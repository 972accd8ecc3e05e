"""Structured answers: `LmPrompt.response_format` as a pydantic model class, and `.parsed`.

    class City(BaseModel):
        name: str
        country: str

    pred = lm.predict(LmPrompt("Capital of France? Answer in JSON.", response_format=City))
    pred.parsed            # City(name='Paris', country='France'), or
    pred.error_message     # "response_format City: the answer does not validate: ..."

How it travels:
- The cache key holds the class's JSON schema (`model_json_schema()`), never the class, so
  the key is stable across processes and equal to the key of the same schema given as a dict.
- The cache stores the model's raw answer. `answers.finish` parses it each time a prediction
  is handed to the caller, fresh or cached, so `.parsed` comes back from the cache without
  pickles, and a class that changed since is validated against the answer as it is now.
- Providers with a native JSON mode get the schema (OpenAI chat: `strict_schema`, a strict
  `json_schema` format). Where there is none, the answer goes through `extract_json`
  (strip to the outermost JSON value, as l2m2's "strip" strategy); chat backends that take
  an assistant prefill can start the answer with `{` (`JSON_PREFILL`, `with_json_prefill`).

This module imports nothing of lmwrapper (`core.prompt` imports it; `core.answers` puts a
prediction and its format together) and does not import pydantic: a class is recognised by
its methods.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

JSON_PREFILL = "{"  # what a chat model that takes an assistant prefill is made to start with


def is_schema_class(value: Any) -> bool:
    """True for a pydantic (v2) model class."""
    return isinstance(value, type) and hasattr(value, "model_json_schema") \
        and hasattr(value, "model_validate")


@functools.lru_cache(maxsize=256)
def json_schema(cls: type) -> dict[str, Any]:
    """The class's JSON schema (pydantic's, deterministic), computed once per class."""
    return dict(cls.model_json_schema())  # type: ignore[attr-defined]


def response_format_key(rf: Any) -> Any:
    """What the cache key holds for a response format: a class as its JSON schema."""
    if rf == "text":
        return None
    if isinstance(rf, type):
        return copy.deepcopy(json_schema(rf))  # callers may mutate what they get
    return rf


def wants_json(rf: Any) -> bool:
    return rf not in (None, "text")


def strict_schema(schema: Any) -> Any:
    """`schema` as OpenAI's strict mode wants it: every object closed (additionalProperties
    false) and every property required. A copy; `$defs` are handled the same way."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items()}
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    for props in (out.get("properties"), out.get("$defs")):
        if isinstance(props, dict):
            for k, v in props.items():
                props[k] = strict_schema(v)
                if isinstance(props[k], dict) and props[k].get("default", 0) is None:
                    del props[k]["default"]  # strict mode rejects defaults; None is pydantic's
    return out


def request_schema(rf: Any) -> Any:
    """The response format a backend sends: a class as a strict schema titled by its name."""
    if is_schema_class(rf):
        return {**strict_schema(json_schema(rf)), "title": rf.__name__}
    return rf


def extract_json(text: str) -> str:
    """The outermost JSON value in `text`: from the first `{` or `[` to the last matching
    closer. Returns `text` unchanged when there is none.

        >>> extract_json('Sure! {"a": [1, 2]} Hope that helps.')
        '{"a": [1, 2]}'
    """
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    start = min(starts)
    end = text.rfind("}" if text[start] == "{" else "]")
    return text[start:end + 1] if end > start else text


def with_json_prefill(text: str) -> str:
    """A prefilled answer as the caller sees it: the prefill put back in front."""
    return text if text.lstrip().startswith(JSON_PREFILL) else JSON_PREFILL + text


def parse_answer(text: str | None, rf: Any) -> tuple[Any, str | None]:
    """(parsed value, None) or (None, what went wrong) for an answer to response format `rf`."""
    if text is None:
        return None, "the prediction has no text"
    value: Any = None
    for candidate in (text, extract_json(text)):
        try:
            value = json.loads(candidate)
            break
        except ValueError:
            continue
    else:
        return None, f"the answer is not JSON: {text[:200]!r}"
    if not is_schema_class(rf):
        return value, None
    try:
        return rf.model_validate(value), None
    except ValueError as e:  # pydantic.ValidationError is a ValueError
        return None, f"the answer does not validate against {rf.__name__}: {e}"
