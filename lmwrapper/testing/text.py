"""What the fake server says: deterministic answers, a fake tokenizer and fake logprobs.

    >>> book = AnswerBook()
    >>> book.answer(AnswerRequest(prompt="What is the capital of France? Answer briefly."))
    'Paris'
    >>> tokenize("Hello, world!")
    ['Hello', ',', ' world', '!']

Tokens are regex pieces (a word or one punctuation mark, with the whitespace before it), so
`"".join(tokenize(t)) == t` and counts are stable. They are not any real model's tokens: a
test that needs real counts passes its own `tokenize` to `FakeServer`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from typing import Any

_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")

Tokenizer = Callable[[str], list[str]]


def tokenize(text: str) -> list[str]:
    """Split `text` into word/punctuation tokens that concatenate back to `text`."""
    return _TOKEN_RE.findall(text)


def stable_hash(*parts: object) -> str:
    """Hex sha256 of the parts, the same in every process (unlike `hash`)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) drawn from the parts."""
    return int(stable_hash(*parts)[:12], 16) / float(16**12)


@dataclasses.dataclass
class AnswerRequest:
    """What an answer function sees. `prompt` is the text to answer: the last user message
    of a chat, or the completion prompt; `full_text` is every message joined by newlines."""

    prompt: str
    full_text: str = ""
    model: str = ""
    sample_index: int = 0
    seed: int | None = None
    temperature: float = 1.0
    body: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.full_text = self.full_text or self.prompt


AnswerFn = Callable[[AnswerRequest], "str | None"]

_CAPITALS = {
    "france": "Paris", "germany": "Berlin", "italy": "Rome", "spain": "Madrid",
    "japan": "Tokyo", "china": "Beijing", "canada": "Ottawa", "australia": "Canberra",
    "united kingdom": "London", "england": "London", "united states": "Washington, D.C.",
    "usa": "Washington, D.C.", "russia": "Moscow", "india": "New Delhi", "brazil": "Brasília",
    "mexico": "Mexico City", "egypt": "Cairo", "portugal": "Lisbon", "greece": "Athens",
}
_CAPITAL_RE = re.compile(r"capital of (?:the )?([A-Za-z .]+?)\s*[?.,!]", re.IGNORECASE)
_ARITH_RE = re.compile(r"(-?\d+)\s*([-+*])\s*(-?\d+)")


def default_answer(q: AnswerRequest) -> str:
    """A small fact table ("capital of France" → "Paris", "2+2" → "4"), else a text made
    from a hash of the prompt and an echo of its last words."""
    m = _CAPITAL_RE.search(q.prompt)
    if m and m.group(1).strip().lower() in _CAPITALS:
        return _CAPITALS[m.group(1).strip().lower()]
    m = _ARITH_RE.search(q.prompt)
    if m:
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        return str(a + b if op == "+" else a - b if op == "-" else a * b)
    words = q.prompt.split()[-12:]
    return f"Answer {stable_hash(q.prompt)[:6]}: " + " ".join(words)


class AnswerBook:
    """Registered prompt→answer pairs, then a replaceable answer function. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: list[tuple[str, str, bool]] = []  # (prompt, answer, exact)
        self._fn: AnswerFn = default_answer

    def add(self, prompt: str, text: str, exact: bool = False) -> None:
        with self._lock:
            self._pairs.append((prompt, text, exact))

    def set_fn(self, fn: AnswerFn | None) -> None:
        with self._lock:
            self._fn = fn or default_answer

    def clear(self) -> None:
        with self._lock:
            self._pairs.clear()
            self._fn = default_answer

    def answer(self, q: AnswerRequest) -> str:
        """The newest registered pair that matches wins (exact: the prompt — the last user
        message — equals it; else it is a substring of any message); then the
        function (falling back to `default_answer` when it returns None); then a sample
        variant when sampling (see `sample_variant`)."""
        with self._lock:
            pairs, fn = list(self._pairs), self._fn
        base = next((t for s, t, exact in reversed(pairs)
                     if (s == q.prompt if exact else s in q.full_text)), None)
        if base is None:
            base = fn(q)
        if base is None:
            base = default_answer(q)
        return sample_variant(base, q)


def sample_variant(base: str, q: AnswerRequest) -> str:
    """At temperature 0, always `base`. When sampling, sample 0 without a seed is `base`
    and every other (sample, seed) pair gets a deterministic suffix, so `n` samples differ
    and the same seed gives the same samples."""
    if q.temperature == 0 or (q.sample_index == 0 and q.seed is None):
        return base
    return f"{base} (sample {stable_hash(q.full_text, q.seed, q.sample_index)[:4]})"


# How many tokens the fake "thinks" at each effort: an effort sweep sees usage grow with it.
EFFORT_TOKENS = {"none": 0, "minimal": 4, "low": 12, "medium": 32, "high": 80, "xhigh": 160,
                 "max": 320}


def reasoning_trace(prompt: str, effort: str) -> str:
    """A deterministic stand-in for a model's reasoning about `prompt` at `effort`: one fake
    token per word (`tokenize` counts it as `EFFORT_TOKENS[effort]`), "" at effort none.

        >>> len(tokenize(reasoning_trace("2+2?", "low")))
        12
    """
    n = EFFORT_TOKENS.get(effort, EFFORT_TOKENS["medium"])
    h = stable_hash(prompt, effort)
    return "".join(f" {'Considering' if i == 0 else 'r' + h[i % 60:i % 60 + 4]}"
                   for i in range(n)).lstrip()


@dataclasses.dataclass
class Generation:
    """One generated text after stop sequences and the token limit were applied."""

    text: str
    tokens: list[str]
    finish_reason: str  # "stop" (natural end or stop sequence) | "length"
    stop_sequence: str | None = None


def generate(
    answer: str, tok: Tokenizer, *, max_tokens: int | None, stop: list[str] | None
) -> Generation:
    """Cut `answer` before the earliest stop string, then to `max_tokens` tokens."""
    text, hit = answer, None
    cuts = [(answer.find(s), s) for s in (stop or []) if s and s in answer]
    if cuts:
        pos, hit = min(cuts)
        text = answer[:pos]
    tokens = tok(text)
    if max_tokens is not None and len(tokens) > max_tokens:
        tokens = tokens[:max_tokens]
        return Generation("".join(tokens), tokens, "length")
    return Generation(text, tokens, "stop", hit)


_ALTERNATIVES = [" the", " a", ",", ".", " and", " of", " to", " in", " is", " it",
                 " that", " I", " for", " on", " with", " as", " be", " at", " by", " this"]


def token_logprob(token: str, position: int, salt: str) -> float:
    """A deterministic logprob in (log 0.5, log 0.99]: the chosen token is always the most
    likely one, as under greedy decoding."""
    return math.log(0.5 + 0.49 * _unit(salt, position, token))


def top_alternatives(token: str, logprob: float, k: int) -> list[tuple[str, float]]:
    """The chosen token and k-1 other tokens, most likely first, with probabilities that
    sum to less than 1."""
    rest = 1.0 - math.exp(logprob)
    others = [t for t in _ALTERNATIVES if t != token][: max(k - 1, 0)]
    alts = [(t, math.log(rest * 0.5 ** (j + 1))) for j, t in enumerate(others)]
    return ([(token, logprob)] + alts)[:k]


def json_answer(text: str, response_format: dict[str, Any] | None) -> str:
    """Make `text` valid JSON when a JSON response format was asked for."""
    kind = (response_format or {}).get("type")
    if kind == "json_schema":
        schema = (response_format or {}).get("json_schema", {}).get("schema", {})
        return json.dumps(_fill_schema(schema, text))
    if kind == "json_object":
        try:
            json.loads(text)
            return text
        except ValueError:
            return json.dumps({"answer": text})
    return text


def _fill_schema(schema: dict[str, Any], text: str) -> Any:
    """A value that satisfies a simple JSON schema, with `text` in its strings."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("anyOf"):  # an optional field (a union with null): its first branch
        return _fill_schema(schema["anyOf"][0], text)
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _fill_schema(v, text) for k, v in props.items()}
    if kind == "array":
        return [_fill_schema(schema.get("items", {"type": "string"}), text)]
    return {"string": text, "integer": 0, "number": 0.0, "boolean": False}.get(kind)
