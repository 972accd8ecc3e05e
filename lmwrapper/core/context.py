"""What a prompt takes of a model's context window, as the model's provider counts it.

A provider supplies the facts (`LmBackend.context_need`); the engine decides, before
anything is sent, whether the prompt cannot fit (`lmwrapper.engine.context`):

    >>> need = ContextNeed(prompt_tokens=130_000, output_tokens=0, window=128_000,
    ...                    counted_by="tiktoken o200k_base")
    >>> need.fewest_tokens
    130000

An estimate (`exact=False`) carries the fewest tokens the prompt can be (`low`) and the
margin's basis in words, so a prompt is refused only when even that low end cannot fit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContextNeed:
    """One prompt's share of the window: `prompt_tokens` (counted, or estimated) plus the
    `output_tokens` the request reserves there (0: the provider counts no output against
    the window), against the model's `window`."""

    prompt_tokens: int
    output_tokens: int
    window: int
    counted_by: str  # "tiktoken o200k_base", "the model's tokenizer", an estimate's method
    exact: bool = True
    low: int | None = None  # an estimate: the fewest prompt tokens it can be (the margin)
    margin: str = ""  # an estimate: the margin and its basis, in words
    counts: str = "prompt tokens"  # what `prompt_tokens` counts ("tokens to score", ...)
    output_name: str = "max_tokens"  # what the reserved output is called in the message
    fix: str = "Shorten the prompt or lower max_tokens."

    @property
    def fewest_tokens(self) -> int:
        """The prompt's tokens as the check takes them: the count, or an estimate's low end."""
        if self.exact or self.low is None:
            return self.prompt_tokens
        return self.low
