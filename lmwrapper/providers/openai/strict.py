"""Does a JSON schema meet Structured Outputs' strict mode? (`violation` says why not.)

OpenAI's structured-outputs guide
(https://developers.openai.com/api/docs/guides/structured-outputs, "Supported schemas";
checked 2026-12-07) takes only a subset of JSON Schema under `strict: true`, and answers
anything else with a 400 ("Invalid schema for response_format ..."):

- the root is an object, not an `anyOf`;
- every object sets `additionalProperties: false` and lists every property in `required`
  (optional fields are written as a union with null);
- `default` is not permitted (the API's own error: "'default' is not permitted", quoted in
  https://zenn.dev/nicopin/scraps/a8d8f53f5faebb);
- at most 5 levels of object nesting (the API's error "6 levels of nesting exceeds limit of
  5", quoted in https://github.com/tidyverse/ellmer/issues/671).

We accept as strict only the keywords below, the structural core every strict schema is made
of; a schema using anything else (constraints such as `minimum`, `pattern`, `format`) is sent
with `strict: false` rather than guessed at. Nothing is rewritten: closing an object or
requiring an optional field would change which answers are valid, so a schema that is not
strict-ready is sent as given, non-strict (README: "Structured answers").

    >>> violation({"type": "object", "properties": {"a": {"type": "string"}},
    ...            "required": ["a"], "additionalProperties": False}) is None
    True
    >>> violation({"type": "object", "properties": {"a": {"type": "string"}}})
    '$: an object without additionalProperties: false'
"""

from __future__ import annotations

from typing import Any

KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "anyOf", "$ref", "$defs", "definitions", "description", "title",
})
MAX_NESTING = 5


def violation(schema: Any) -> str | None:
    """Why `schema` cannot be sent with `strict: true` (a path and a reason), or None."""
    if not isinstance(schema, dict):
        return "$: the schema is not an object"
    if "anyOf" in schema or schema.get("type") != "object":
        return "$: the root must be an object (not anyOf)"
    return _walk(schema, "$", 0)


def _walk(node: Any, path: str, depth: int) -> str | None:
    if isinstance(node, bool) or not isinstance(node, dict):
        return f"{path}: a schema must be an object"
    unknown = sorted(set(node) - KEYWORDS)
    if unknown:
        return f"{path}: {', '.join(unknown)} is not in the strict subset we send"
    if _is_object(node):
        depth += 1
        if depth > MAX_NESTING:
            return f"{path}: more than {MAX_NESTING} levels of nested objects"
        if node.get("additionalProperties") is not False:
            return f"{path}: an object without additionalProperties: false"
        props = node.get("properties") or {}
        if sorted(node.get("required") or ()) != sorted(props):
            return f"{path}: not every property is required"
        for name, sub in props.items():
            found = _walk(sub, f"{path}.{name}", depth)
            if found:
                return found
    for key in ("items",):
        if key in node and (found := _walk(node[key], f"{path}[]", depth)):
            return found
    for i, sub in enumerate(node.get("anyOf") or ()):
        if found := _walk(sub, f"{path}.anyOf[{i}]", depth):
            return found
    for key in ("$defs", "definitions"):
        for name, sub in (node.get(key) or {}).items():
            if found := _walk(sub, f"{path}.{key}.{name}", depth):
                return found
    return None


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


__all__ = ["KEYWORDS", "MAX_NESTING", "violation"]
