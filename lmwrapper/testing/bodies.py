"""Request-body checks every provider's fake shares: a parameter's type and range, a required
one, stop sequences, a message's text. Each raises the 400 `ApiError` the server writes in
the provider's shape.
"""

from __future__ import annotations

from typing import Any

from lmwrapper.testing.http import ApiError


def get(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None,
        lo: float | None = None, hi: float | None = None) -> Any:
    """`body[name]` checked for type and range, or a 400 naming the parameter."""
    value: Any = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _tuple(kind):
        raise ApiError(400, f"Invalid type for '{name}': got {type(value).__name__}.",
                       param=name, code="invalid_type")
    number = float(value) if isinstance(value, (int, float)) else None
    if number is not None and ((lo is not None and number < lo) or
                               (hi is not None and number > hi)):
        raise ApiError(400, f"Invalid '{name}': expected a value between {lo} and {hi}, "
                       f"but got {value} instead.", param=name, code="invalid_value")
    return value


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def require(body: dict[str, Any], name: str) -> Any:
    if body.get(name) in (None, "", []):
        raise ApiError(400, f"Missing required parameter: '{name}'.", param=name,
                       code="missing_required_parameter")
    return body[name]


def stops(value: Any, param: str = "stop", most: int = 4) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ApiError(400, f"Invalid type for '{param}'.", param=param, code="invalid_type")
    if len(items) > most:
        raise ApiError(400, f"Invalid '{param}': at most {most} stop sequences.",
                       param=param, code="invalid_value")
    return items


def content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
