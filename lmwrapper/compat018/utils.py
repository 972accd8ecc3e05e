"""lmwrapper 0.18's `lmwrapper.compat018.utils`: helpers its users imported (see README, "Coming from
lmwrapper 0.18"). lmwrapper itself does not use them: its retries are the engine's.

    >>> flatten_dict({"a": {"b": 1}, "c": 2})
    {'a__b': 1, 'c': 2}
"""

from __future__ import annotations

import enum
import functools
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

# 0.18 carried a backport of Python 3.11's StrEnum; lmwrapper needs 3.11, so it is that one.
StrEnum = enum.StrEnum

F = TypeVar("F", bound=Callable[..., Any])


def flatten_dict(d: dict[str, Any], parent_key: str = "", sep: str = "__",
                 verify_keys_do_not_have_sep: bool = True) -> dict[str, Any]:
    """Nested dicts as one level, keys joined with `sep`; ValueError if a key holds `sep`
    (then two different nestings could flatten to the same key)."""
    items: dict[str, Any] = {}
    for k, v in d.items():
        if verify_keys_do_not_have_sep and sep in k:
            raise ValueError(f"flatten_dict: separator {sep!r} is not allowed in keys; found in "
                             f"{k!r}. Pass another sep=, or verify_keys_do_not_have_sep=False.")
        key = f"{parent_key}{sep}{k}" if parent_key else k
        if isinstance(v, dict):
            items.update(flatten_dict(v, key, sep, verify_keys_do_not_have_sep))
        else:
            items[key] = v
    return items


def retry_func_on_exception(exception: type[Exception], max_retries: int = 8,
                            linear_backoff_factor: float = 3,
                            exponential_backoff_factor: float = 2,
                            print_output_stream: TextIO | None = sys.stderr,
                            extra_message: str = "") -> Callable[[F], F]:
    """A decorator: call the function again when it raises `exception`, at most `max_retries`
    calls in all, waiting `exponential_backoff_factor ** n + linear_backoff_factor * n`
    seconds after the n-th failure; the last failure is raised."""

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            retries = 0
            while True:
                try:
                    return func(*args, **kwargs)
                except exception as e:
                    retries += 1
                    if retries >= max_retries:
                        raise
                    wait = exponential_backoff_factor ** retries + linear_backoff_factor * retries
                    if print_output_stream:
                        print(f"{type(e).__name__} occurred. Retrying in {wait:.3f} seconds..."
                              + extra_message, file=print_output_stream)
                    time.sleep(wait)

        return wrapper  # type: ignore[return-value]

    return decorator
