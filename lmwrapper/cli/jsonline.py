"""`encode_line(record)`: `json.JSONEncoder(ensure_ascii=False).encode(record)`, a third cheaper.

`JSONEncoder.encode` makes a new C encoder (and the closures around it) on every call; for a
650-byte output line of `lmwrapper run` that was 3 of its 8.6 µs. Here CPython's C encoder is
made once, with the same settings and the same `default` (a value JSON cannot hold raises the
same TypeError); a cycle is left to the plain encoder, so the text and the errors are json's own.
Where the C encoder is missing or takes other arguments (another Python), the plain one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any

_plain = json.JSONEncoder(ensure_ascii=False)
_SAMPLE = {"index": 0, "id": "q\u00e9\n\"", "x": [1.5, -0.25, 2.4e-06, None, True, {"k": 1}]}


def _fast() -> Callable[[Any], str]:
    make = getattr(_json_encoder, "c_make_encoder", None)
    basestring = getattr(_json_encoder, "c_encode_basestring", None)
    if make is None or basestring is None:
        return _plain.encode
    # No circular check (None for its markers): it cost a tenth of a line. A cycle then
    # recurses until RecursionError, and the plain encoder says what json says of it
    # ("Circular reference detected"; a structure merely too deep: RecursionError again).
    try:
        chunks = make(None, _plain.default, basestring, None, ": ", ", ", False, False, True)
    except TypeError:
        return _plain.encode

    def encode(record: Any) -> str:
        try:
            return "".join(chunks(record, 0))
        except RecursionError:
            return _plain.encode(record)

    try:
        same = encode(_SAMPLE) == _plain.encode(_SAMPLE)
    except Exception:  # noqa: BLE001  (any surprise: the plain encoder)
        same = False
    return encode if same else _plain.encode


encode_line = _fast()

__all__ = ["encode_line"]
