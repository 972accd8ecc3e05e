"""lmwrapper 0.18's names on `HuggingFacePredictor` (see README, "Coming from lmwrapper 0.18").

A mixin of methods and properties only, lent to the class by name when its module loads
(`lmwrapper.core.extend.receive`: the local-model modules import numpy, so not before); the
predictor declares them for mypy. Its own token helpers are in
`lmwrapper.providers.huggingface.tokens`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lmwrapper.core import extend


class HfCompat018:
    """0.18's raw-token helpers of a local model."""

    if TYPE_CHECKING:
        tokenizer: Any
        config: Any

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


def install() -> None:
    """Lend `HfCompat018` to `HuggingFacePredictor`, whenever its module is loaded."""
    extend.lend("lmwrapper.providers.huggingface.predictor.HuggingFacePredictor", HfCompat018)
