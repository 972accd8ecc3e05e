"""lmwrapper 0.18's names on `HuggingFacePredictor` (see README, "Coming from lmwrapper 0.18").

A mixin of methods and properties only; the predictor's own logic stays in `predictor.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any


class HfCompat018:
    """0.18's token helpers and capability flags of a local model."""

    if TYPE_CHECKING:
        tokenizer: Any
        config: Any
        _identity: dict[str, Any]

        def token_str(self, token_id: int) -> str: ...

    def tokenize(self, input_str: str) -> list[str]:
        """`input_str` as token strings, in the same text form as `completion_tokens`
        (so `"".join(lm.tokenize(s)) == s`; 0.18 gave the tokenizer's raw "Ġ" forms)."""
        return [self.token_str(i) for i in self.tokenize_ids(input_str)]

    def tokenize_ids(self, input_str: str) -> list[int]:
        """`input_str` as token ids, without special tokens (no BOS), as `tokenize` splits it."""
        return list(self.tokenizer(input_str, add_special_tokens=False)["input_ids"])

    @cached_property
    def space_char(self) -> str | None:
        """What stands for a space in the tokenizer's raw tokens ("Ġ" in GPT-2's, "▁" in
        Llama's); None if it cannot tell. `completion_tokens` here already use " "."""
        tokens = [str(t) for t in self.tokenizer.tokenize("I went to")]
        for tok in tokens:  # 0.18's way: "Ġwent" less "went"
            if "went" in tok:
                return tok.replace("went", "")
        for tok in tokens[1:]:  # a small vocabulary splits "went": a token that decodes to a space
            text = self.tokenizer.convert_tokens_to_string([tok])
            if text.startswith(" ") and not tok.startswith(" "):
                return tok[0]  # the marker that decodes to the space
        return None

    @cached_property
    def newline_char(self) -> str | None:
        """What stands for a newline in the tokenizer's raw tokens ("Ċ" in GPT-2's); None if
        it cannot tell."""
        for attempt in ("I\nI", "a\na"):
            tokens = self.tokenizer.tokenize(attempt)
            if len(tokens) == 3:
                return str(tokens[1])
        return None

    def remove_special_chars_from_tokens(self, tokens: Sequence[str]) -> list[str]:
        """Raw tokenizer tokens (`lm.tokenizer.tokenize(...)`) as text: `space_char` becomes
        " " and `newline_char` "\\n". Tokens from lmwrapper are text already (unchanged)."""
        out = list(tokens)
        for raw, text in ((self.space_char, " "), (self.newline_char, "\n")):
            if raw and raw != text:
                out = [tok.replace(raw, text) for tok in out]
        return out

    @property
    def is_encoder_decoder(self) -> bool:
        """False for the causal LMs lmwrapper loads (0.18 also loaded T5-style models)."""
        return bool(getattr(self.config, "is_encoder_decoder", False))

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
    def reasoning_style(self) -> Any:  # LmReasoningStyle
        from lmwrapper.engine.predictor import LmReasoningStyle

        return LmReasoningStyle.NEVER_THINK
