"""What a local model says about its tokens and its chat format (`LmPredictor`'s questions).

A mixin of methods and properties only; the backend's own logic stays in `backend.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmwrapper.engine.predictor import LmReasoningStyle


class LocalTokens:
    """`tokenize`, `tokenize_ids` and the capability flags of a local model."""

    if TYPE_CHECKING:
        tokenizer: Any
        _identity: dict[str, Any]

        def token_str(self, token_id: int) -> str: ...

    def tokenize(self, input_str: str) -> list[str]:
        """`input_str` as token strings, in the same text form as `completion_tokens`
        (so `"".join(lm.tokenize(s)) == s`; 0.18 gave the tokenizer's raw "Ġ" forms)."""
        return [self.token_str(i) for i in self.tokenize_ids(input_str)]

    def tokenize_ids(self, input_str: str) -> list[int]:
        """`input_str` as token ids, without special tokens (no BOS), as `tokenize` splits it."""
        return list(self.tokenizer(input_str, add_special_tokens=False)["input_ids"])

    @property
    def supports_token_operations(self) -> bool:
        return True

    @property
    def is_chat_model(self) -> bool:
        return bool(self._identity["chat_mode"])

    @property
    def supports_prefilled_chat(self) -> bool:
        """A chat ending in an assistant turn is continued through the chat template."""
        return bool(self._identity["chat_mode"])

    @property
    def reasoning_style(self) -> LmReasoningStyle:
        return LmReasoningStyle.NEVER_THINK
