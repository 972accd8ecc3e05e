"""Money: what a request cost (from its usage) and what a run can cost at most (before sending).

    >>> price = Price(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    >>> round(price.cost(LmUsage(prompt_tokens=1000, completion_tokens=500)), 6)
    0.00045
    >>> round(price.cost(LmUsage(1000, 500), batch=True), 6)   # the Batch API's half price
    0.000225

The upper bound of a run (`bound`) counts every input token and `max_tokens` (or the
model's default) output tokens for every sample still to be made; cached prompts are left
out by the engine before it asks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt, LmUsage

if TYPE_CHECKING:
    from lmwrapper.abstract_predictor import CostEstimate, LmPredictor

PER = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per million tokens at the live rate; `batch_discount` is the batch API's multiplier."""

    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cached_input_usd_per_mtok: float | None = None
    batch_discount: float = 0.5

    @property
    def known(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    def cost(self, usage: LmUsage, *, batch: bool = False) -> float | None:
        """USD for one request's usage; None when the price or the usage is unknown."""
        if not self.known or usage.prompt_tokens is None or usage.completion_tokens is None:
            return None
        cached = min(usage.cached_prompt_tokens or 0, usage.prompt_tokens)
        rate_in, rate_out = self.input_usd_per_mtok or 0.0, self.output_usd_per_mtok or 0.0
        rate_cached = self.cached_input_usd_per_mtok
        if rate_cached is None:
            rate_cached = rate_in
        usd = ((usage.prompt_tokens - cached) * rate_in + cached * rate_cached
               + usage.completion_tokens * rate_out) / PER
        return usd * (self.batch_discount if batch else 1.0)


def bound(
    price: Price,
    prompts: Sequence[LmPrompt],
    window: CompletionWindow,
    *,
    samples: Sequence[int] | None,
    input_tokens: Callable[[LmPrompt], int],
    max_output_tokens: Callable[[LmPrompt], int],
    batch_priced: bool,
) -> CostEstimate:
    """Upper bound for sending `prompts` (`samples[i]` completions of prompt i, default its need).

    A request for n samples is billed its input once and n outputs (OpenAI's `n=`).
    """
    from lmwrapper.abstract_predictor import CostEstimate
    from lmwrapper.plan import as_prompts  # a bare string, as predict_many reads it

    prompts = as_prompts(prompts)
    counts = list(samples) if samples is not None else [p.samples_needed for p in prompts]
    tokens_in = sum(input_tokens(p) for p in prompts)
    tokens_out = sum(max_output_tokens(p) * n for p, n in zip(prompts, counts))
    if not price.known:
        return CostEstimate(len(prompts), tokens_in, tokens_out, 0.0, 0.0, priced=False)
    mult = price.batch_discount if (batch_priced and window == CompletionWindow.BATCH_ANY) else 1.0
    rate_in, rate_out = price.input_usd_per_mtok or 0.0, price.output_usd_per_mtok or 0.0
    return CostEstimate(len(prompts), tokens_in, tokens_out,
                        tokens_in * rate_in / PER * mult, tokens_out * rate_out / PER * mult)


def uncached(lm: LmPredictor, prompts: Sequence[LmPrompt | str],
             window: CompletionWindow = CompletionWindow.ASAP) -> tuple[list[LmPrompt], list[int]]:
    """The prompts (and sample counts) a `predict_many` would send; nothing is sent or started
    (the engine's planning step alone: validate, key, dedupe, look up)."""
    from lmwrapper.plan import Plan

    plan = Plan(lm, prompts, window)
    return plan.uncached()


def estimate_run(lm: LmPredictor, prompts: Sequence[LmPrompt | str],
                 window: CompletionWindow = CompletionWindow.ASAP) -> CostEstimate:
    """What a `predict_many(prompts, window)` would cost at most, cached answers excluded."""
    todo, samples = uncached(lm, prompts, window)
    return lm.estimate_cost(todo, window, samples=samples)


def format_usd(usd: float) -> str:
    """Dollars as a person reads them: cents above $1, three significant digits below, so a
    real sub-cent spend never shows as `$0.0000`.

    >>> format_usd(1234.5), format_usd(0.5), format_usd(0.000045), format_usd(0.0)
    ('$1,234.50', '$0.50', '$0.000045', '$0.00')
    """
    if usd >= 1 or usd <= 0:
        return f"${usd:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(usd)))
    text = f"{usd:.{decimals}f}".rstrip("0")
    if len(text.partition(".")[2]) < 2:
        text = f"{usd:.2f}"
    return "$" + text
