"""Cache keys: a prompt's canonical JSON, and the sha256 that names its rows.

A key is the sha256 of `KEY_SCHEMA_VERSION`, the model's identity and the prompt's canonical
JSON (`LmPrompt.canonical()`: named entries, key-sorted, fields at their default left out).
The same encoding is what the `prompts` table stores, so a person can read what was asked.
`tests/test_cache_key.py` pins golden keys so no change slips by.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import operator
from collections.abc import Iterable
from typing import Any

from lmwrapper.core.prompt import LmPrompt

# 2: named entries, defaults left out (1 hashed the values by position).
KEY_SCHEMA_VERSION = 2

# One encoder for every key: json.dumps with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def prompt_key(canonical_prompt: dict[str, Any], model_identity_json: str) -> str:
    """The cache key: sha256 over key-schema version, model identity and canonical prompt.

    The prompt is encoded as named entries, key-sorted, nested dicts too (chat turns,
    response formats): reordering fields in code does not move a key, and since
    `LmPrompt.canonical()` leaves out fields at their default, neither does adding a field
    with a default. A change in what a value *means* still needs a bump of
    `KEY_SCHEMA_VERSION`; `tests/test_cache_key.py` pins golden keys so no change slips by.
    """
    return key_of(_CANONICAL.encode(canonical_prompt), model_identity_json)


def canonical_json(prompt: LmPrompt) -> str:
    """The prompt's canonical form as the key hashes it (`key_of`) and the `prompts` table
    stores it: one encoding serves both (no metadata; fields at their default left out, so
    `{"kind":"text","max_tokens":5,"text":"Hi"}` is 40 bytes where every field takes 270).

    A text prompt of plain values is spelled directly (`_text_json`), without building the
    `canonical()` dict: the same bytes, a third of the time; everything else goes the long way.
    """
    text = _text_json(prompt)
    return text if text is not None else _CANONICAL.encode(prompt.canonical())


_str = json.encoder.encode_basestring  # what _CANONICAL uses for a string (C, ensure_ascii=False)
_float = float.__repr__  # what it uses for a finite float
_int = int.__repr__
_isfinite = math.isfinite
_LM_PROMPT_CANONICAL = LmPrompt.canonical  # a subclass that spells its own takes the long way
# What `_text_json` spells, and what no key holds; any other field (one added later, too)
# must be at its default for the direct spelling, else the prompt takes the long way.
_SPELLED = {"text", "add_bos_token", "add_special_tokens", "echo", "frequency_penalty",
            "logprobs", "max_tokens", "presence_penalty", "seed", "stop", "temperature",
            "top_p", "metadata", "num_completions", "cache"}
_OTHER_FIELDS = tuple(f.name for f in dataclasses.fields(LmPrompt) if f.name not in _SPELLED)
_others = operator.attrgetter(*_OTHER_FIELDS)
_OTHER_DEFAULTS = tuple(f.default for f in dataclasses.fields(LmPrompt) if f.name not in _SPELLED)


def _text_json(p: LmPrompt) -> str | None:
    """`_CANONICAL.encode(p.canonical())` for a text prompt whose values are of the exact types
    validation leaves (None where it is not one of those: the caller encodes the dict).

    Entries in key order, each left out where `canonical()` leaves it out (`v != default`,
    so -0.0 counts as 0.0 there and here). `tests/test_cache_key.py` checks both spellings
    agree over every field's values, besides the golden keys."""
    text = p.text
    if (type(text) is not str or _others(p) != _OTHER_DEFAULTS
            or type(p).canonical is not _LM_PROMPT_CANONICAL):
        return None
    out = []
    v: Any = p.add_bos_token
    if v is not None:
        if type(v) is not bool:
            return None
        out.append('"add_bos_token":true' if v else '"add_bos_token":false')
    v = p.add_special_tokens
    if v is not True:
        if v is not False:
            return None
        out.append('"add_special_tokens":false')
    v = p.echo
    if v is not False:
        if v is not True:
            return None
        out.append('"echo":true')
    v = p.frequency_penalty
    if v != 0.0:
        if type(v) is not float or not _isfinite(v):
            return None
        out.append(f'"frequency_penalty":{_float(v)}')
    out.append('"kind":"text"')
    v = p.logprobs or 0
    if v != 1:
        if type(v) is not int:
            return None
        out.append(f'"logprobs":{_int(v)}')
    v = p.max_tokens
    if v is not None:
        if type(v) is not int:
            return None
        out.append(f'"max_tokens":{_int(v)}')
    v = p.presence_penalty
    if v != 0.0:
        if type(v) is not float or not _isfinite(v):
            return None
        out.append(f'"presence_penalty":{_float(v)}')
    v = p.seed
    if v is not None:
        if type(v) is not int:
            return None
        out.append(f'"seed":{_int(v)}')
    v = p.stop
    if v:
        if type(v) is not tuple or any(type(s) is not str for s in v):
            return None
        out.append(f'"stop":[{",".join(map(_str, v))}]')
    v = p.temperature
    if v != 1.0:
        if type(v) is not float or not _isfinite(v):
            return None
        out.append(f'"temperature":{_float(v)}')
    v = p.top_p
    if v != 1.0:
        if type(v) is not float or not _isfinite(v):
            return None
        top_p = f',"top_p":{_float(v)}'
    else:
        top_p = ""
    # one join holding the escaped text: a 100 MB text is not copied twice more
    return "".join(("{", ",".join(out), ',"text":' if out else '"text":', _str(text), top_p, "}"))


def key_of(canonical: str, model_identity_json: str) -> str:
    """`prompt_key` of a prompt already encoded by `canonical_json`."""
    return hashlib.sha256(
        f"{KEY_SCHEMA_VERSION}\x1f{model_identity_json}\x1f{canonical}".encode()
    ).hexdigest()


def keys_of(canonicals: Iterable[str], model_identity_json: str) -> list[str]:
    """`key_of` over many prompts of one model (the prefix spelled once)."""
    prefix = f"{KEY_SCHEMA_VERSION}\x1f{model_identity_json}\x1f"
    sha256 = hashlib.sha256
    return [sha256((prefix + c).encode()).hexdigest() if len(c) < _LONG else _long_key(prefix, c)
            for c in canonicals]


_LONG = 1 << 20  # a canonical JSON this long is hashed in slices: no whole copy of it is made


def _long_key(prefix: str, canonical: str) -> str:
    """The key of a long prompt, its UTF-8 encoding hashed a slice at a time (the same digest:
    a str slice never splits a character)."""
    h = hashlib.sha256(prefix.encode())
    for i in range(0, len(canonical), _LONG):
        h.update(canonical[i : i + _LONG].encode())
    return h.hexdigest()


def identity_json(identity: dict[str, Any]) -> str:
    return _CANONICAL.encode(identity)


_last_prompt: tuple[str, str] = ("", "")


def prompt_json(key: str, prompt: LmPrompt) -> str:
    """`canonical_json(prompt)`, for a writer that did not keep it from computing `key`.

    Encoded once per key: the samples of one prompt arrive one after another, so a one-entry
    memo suffices (a tuple swap is atomic, so concurrent backend threads are safe).
    """
    global _last_prompt
    last = _last_prompt
    if last[0] == key:
        return last[1]
    text = canonical_json(prompt)
    _last_prompt = (key, text)
    return text
