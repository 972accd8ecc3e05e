"""Constrained decoding for `LmPrompt.response_format` on local models, through llguidance.

    response_format (class | schema dict | "json_object")
        ─► JSON schema ─► llguidance grammar (compiled once per schema, per predictor)
        ─► one `LLMatcher` per row ─► each step: disallowed tokens get -inf before the row's
           token is chosen; the chosen token advances the matcher; a matcher that is stopped
           (the JSON value is complete) ends the row with finish_reason "stop"

llguidance is an optional dependency (`pip install 'lmwrapper[structured]'`); it is imported
only when a prompt asks for JSON. Only the choice is masked: the logprobs reported stay the
model's own (as for every other row), so they say how likely the model found each token.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from lmwrapper.core.errors import ConfigurationError
from lmwrapper.core.structured import request_schema

INSTALL_HINT = "pip install 'lmwrapper[structured]'"

# Compact JSON: a weak model must not spend its tokens on whitespace.
_JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def require_llguidance(*, light: bool = False) -> Any:
    """The llguidance module, or a ConfigurationError naming the extra to install.
    `light`: only its core (no transformers), so a check on a cached run stays cheap."""
    try:
        import llguidance
        if not light:
            import llguidance.hf
    except ImportError as e:
        raise ConfigurationError(
            "LmPrompt.response_format on a local model needs constrained decoding, which needs "
            f"the llguidance package ({e}). Fix: {INSTALL_HINT}, or leave response_format None "
            "and parse with lmwrapper.core.structured.parse_answer") from e
    return llguidance


def schema_of(response_format: Any) -> dict[str, Any]:
    """The JSON schema a response format asks for ("json_object": any JSON object)."""
    if response_format == "json_object":
        return {"type": "object"}
    schema = request_schema(response_format)  # a class: closed objects, every field present
    if not isinstance(schema, dict):  # ValueError, as every refusal of validate_prompt
        raise ValueError(  # noqa: TRY004
            f"LmPrompt.response_format: {response_format!r} is not a JSON schema; give a "
            "pydantic model class, a JSON schema dict or 'json_object'")
    return schema


class Grammars:
    """The llguidance tokenizer (built once: ~1 s) and compiled grammars, one per schema."""

    def __init__(self, tokenizer: Any, eos_ids: set[int], vocab: int | None = None) -> None:
        self._hf_tokenizer = tokenizer
        self._eos_ids = sorted(eos_ids)
        self._vocab = vocab
        self._ll_tokenizer: Any = None
        self._grammars: dict[str, str] = {}
        self._lock = threading.Lock()

    def matcher_factory(self, response_format: Any) -> Any:
        """A function making a fresh matcher for one row (a rerun after out-of-memory
        starts over)."""
        llg = require_llguidance()
        schema = schema_of(response_format)
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            if self._ll_tokenizer is None:
                self._ll_tokenizer = llg.hf.from_tokenizer(
                    self._hf_tokenizer, n_vocab=self._vocab, eos_token=self._eos_ids)
            grammar = self._grammars.get(key)
            if grammar is None:
                grammar = llg.LLMatcher.grammar_from_json_schema(schema, defaults=_JSON_OPTIONS)
                problem = llg.LLMatcher.validate_grammar(grammar, self._ll_tokenizer)
                if problem and not problem.startswith("WARNING"):
                    raise ValueError(f"LmPrompt.response_format: llguidance cannot use this "
                                     f"schema: {problem}. Fix: simplify the schema")
                self._grammars[key] = grammar
        ll_tokenizer = self._ll_tokenizer
        return lambda: Constraint(llg.LLMatcher(ll_tokenizer, grammar, log_level=0))


class Constraint:
    """One row's matcher: which tokens may come next, and whether the value is complete."""

    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher

    def mask_(self, logits: Any) -> None:
        """Set the logits of tokens the grammar forbids now to -inf (in place, one row)."""
        import torch

        words = torch.frombuffer(bytearray(self.matcher.compute_bitmask()), dtype=torch.int32)
        bits = (words[:, None] >> torch.arange(32, dtype=torch.int32)) & 1
        allowed = bits.flatten().bool()
        n = min(allowed.numel(), logits.shape[-1])
        forbid = torch.ones(logits.shape[-1], dtype=torch.bool)
        forbid[:n] = ~allowed[:n]
        logits.masked_fill_(forbid.to(logits.device), float("-inf"))

    def advance(self, token: int) -> None:
        self.matcher.consume_token(token)

    @property
    def done(self) -> bool:
        """The value is complete (only end-of-sequence may follow), or the matcher failed
        (the answer then fails to parse, and `.error_message` says so)."""
        return bool(self.matcher.is_stopped() or self.matcher.is_error())
