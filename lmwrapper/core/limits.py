"""Size limits of one request: the provider's (its folder's models.toml says which, with the
source) and the cache's (SQLite's longest value). The engine refuses a prompt past one before
anything is sent (`lmwrapper.engine.plan`); a provider only supplies the numbers.

Two measures, both cheap for a prompt of any size (no copy of an ASCII text is made):

    bytes        the prompt's canonical JSON in UTF-8: what the cache stores of it, and what
                 the request body holds of it (the body adds its model name and parameters;
                 the lean HTTP path escapes non-ASCII text, so its body can be larger)
    characters   the longest text string of the prompt (its text, or a chat turn's content)

    >>> limit = SizeLimit(10, "characters", "a test's request", "tests (2026-12-07)")
    >>> from lmwrapper.core.prompt import LmPrompt
    >>> print(limit.refusal(LmPrompt("x" * 11, max_tokens=1), '"..."'))  # doctest: +ELLIPSIS
    refused before sending: the prompt's longest text is 11 characters, over the 10-character limit of a test's request (tests (2026-12-07)); nothing was sent or paid for. ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lmwrapper.core.prompt import LmPrompt

Unit = Literal["bytes", "characters"]


@dataclass(frozen=True)
class SizeLimit:
    """The most one request (or batch line, or stored prompt) may hold, and who says so."""

    most: int
    unit: Unit
    what: str  # "an Anthropic Messages request"
    source: str  # where the number comes from, and when it was checked

    def size(self, prompt: LmPrompt, canonical: str) -> int:
        """`prompt`'s size in this limit's unit; `canonical`: its canonical JSON."""
        if self.unit == "bytes":
            return json_bytes(canonical)
        return longest_text(prompt)

    def refusal(self, prompt: LmPrompt, canonical: str) -> str | None:
        """Why `prompt` is refused, or None when it is within the limit."""
        if len(canonical) * (4 if self.unit == "bytes" else 1) <= self.most:
            return None  # the usual prompt: no character takes 4 bytes, no text outgrows the JSON
        size = self.size(prompt, canonical)
        if size <= self.most:
            return None
        subject = "the prompt is" if self.unit == "bytes" else "the prompt's longest text is"
        return (f"refused before sending: {subject} {size:,} {self.unit}, over the "
                f"{self.most:,}-{self.unit[:-1]} limit of {self.what} ({self.source}); nothing "
                f"was sent or paid for. Shorten the prompt or split it into several")


def json_bytes(canonical: str) -> int:
    """UTF-8 bytes of `canonical` (an ASCII text: its length, no copy made)."""
    return len(canonical) if canonical.isascii() else len(canonical.encode("utf-8"))


def longest_text(prompt: LmPrompt) -> int:
    """Characters of the prompt's longest text string (a chat: its longest turn)."""
    text = prompt.text
    if isinstance(text, str):
        return len(text)
    return max((len(turn.content) for turn in prompt.get_text_as_chat()), default=0)


def refusal(limits: Sequence[SizeLimit], prompt: LmPrompt, canonical: str
            ) -> tuple[SizeLimit, str] | None:
    """The first of `limits` that `prompt` is over and why, or None."""
    for limit in limits:
        why = limit.refusal(prompt, canonical)
        if why is not None:
            return limit, why
    return None
