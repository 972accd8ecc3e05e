"""Words in messages that agree with their count:

    >>> counted(1, "prompt"), counted(3, "prompt"), counted(1, "batch", "batches")
    ('1 prompt', '3 prompts', '1 batch')
    >>> counted(0, "batch", "batches")
    '0 batches'
"""

from __future__ import annotations


def noun(n: int, one: str, many: str | None = None) -> str:
    """`one` for a count of 1, else `many` (default: `one` + "s")."""
    return one if n == 1 else (many or f"{one}s")


def counted(n: int, one: str, many: str | None = None) -> str:
    """`n` and its noun: "1 prompt", "2 prompts"."""
    return f"{n} {noun(n, one, many)}"


__all__ = ["counted", "noun"]
