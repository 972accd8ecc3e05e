"""Cache keys: a prompt's canonical JSON, and the sha256 that names its rows.

A key is the sha256 of `KEY_SCHEMA_VERSION`, the model's identity and the prompt's canonical
JSON (`LmPrompt.canonical()`: named entries, key-sorted, fields at their default left out).
The same encoding is what the `prompts` table stores, so a person can read what was asked.
`tests/test_cache_key.py` pins golden keys so no change slips by.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    `{"kind":"text","max_tokens":5,"text":"Hi"}` is 40 bytes where every field takes 270)."""
    return _CANONICAL.encode(prompt.canonical())


def key_of(canonical: str, model_identity_json: str) -> str:
    """`prompt_key` of a prompt already encoded by `canonical_json`."""
    return hashlib.sha256(
        f"{KEY_SCHEMA_VERSION}\x1f{model_identity_json}\x1f{canonical}".encode()
    ).hexdigest()


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
