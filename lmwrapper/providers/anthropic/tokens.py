"""Claude's token counts: an offline estimate, and a cache of the exact counts.

Anthropic publishes no tokenizer for Claude 3 and later: only its count_tokens endpoint knows
exact counts (`ClaudeBackend.count_tokens` asks it and keeps its answers in a `CountCache`).
Offline, `estimate_claude_tokens` estimates from characters and says it is an estimate
(`TokenCount.exact` is False).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Self

# Offline we estimate from characters. English runs near 3.5 characters per
# Claude token; dividing by 3 leans high on purpose, because the estimate feeds cost bounds
# and context checks, which must not undercount. Each message adds a few format tokens.
CLAUDE_CHARS_PER_TOKEN = 3.0
# The low end of that estimate, for the context-window check, which must never refuse a
# prompt that might fit: at most 6 characters per token, over 1.7 times the 3.5 of English
# text, so the estimate's low end is half of it. Only a prompt whose low end cannot fit
# is refused before sending; any other goes, and the API judges it.
CLAUDE_MAX_CHARS_PER_TOKEN = 6.0
CLAUDE_TOKENS_PER_MESSAGE = 4
CLAUDE_COUNT_CACHE_SIZE = 4096


class TokenCount(int):
    """A token count that says how it was obtained: `exact` (the provider counted it) or not.

        >>> n = estimate_claude_tokens("", [{"role": "user", "content": "Hello there"}])
        >>> int(n), n.exact
        (8, False)
    """

    exact: bool
    source: str

    def __new__(cls, value: int, *, exact: bool, source: str) -> Self:
        obj = super().__new__(cls, value)
        obj.exact, obj.source = exact, source
        return obj

    def __repr__(self) -> str:
        return f"TokenCount({int(self)}, exact={self.exact}, source={self.source!r})"


def estimate_claude_tokens(system: str, messages: Sequence[Mapping[str, Any]]) -> TokenCount:
    """An offline upper-leaning estimate of a Claude prompt's input tokens (`exact=False`)."""
    chars = len(system) + sum(len(str(m.get("content") or "")) for m in messages)
    n = -(-chars // CLAUDE_CHARS_PER_TOKEN) + CLAUDE_TOKENS_PER_MESSAGE * (len(messages) + bool(system))
    return TokenCount(int(n), exact=False, source="estimate (characters / 3; offline)")


def fewest_claude_tokens(system: str, messages: Sequence[Mapping[str, Any]]) -> int:
    """The low end of `estimate_claude_tokens`: characters / 6, no format tokens."""
    chars = len(system) + sum(len(str(m.get("content") or "")) for m in messages)
    return int(chars // CLAUDE_MAX_CHARS_PER_TOKEN)


class CountCache:
    """A small thread-safe LRU of exact counts, keyed by the request body's canonical JSON,
    so asking twice for the same prompt costs one count_tokens call."""

    def __init__(self, size: int = CLAUDE_COUNT_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> int | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: int) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
