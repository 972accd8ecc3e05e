"""Money: what a request cost (from its usage) and what a run can cost at most (before sending).

    >>> price = Price(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    >>> round(price.cost(LmUsage(prompt_tokens=1000, completion_tokens=500)), 6)
    0.00045
    >>> round(price.cost(LmUsage(1000, 500), batch=True), 6)   # the Batch API's half price
    0.000225

A model sold at other service tiers (OpenAI's flex and priority) or in background windows
(OpenAI's 2 h and 8 h) has their rates in `tiers`; a request is billed at the rates of the
tier that served it (`at`), and a run's bound at the rates its window asks for.

The upper bound of a run (`bound`) counts every input token and `max_tokens` (or the
model's default) output tokens for every sample still to be made; cached prompts are left
out by the engine before it asks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields

from lmwrapper.core.prompt import LmPrompt, LmUsage
from lmwrapper.core.window import CompletionWindow, rates_name
from lmwrapper.core.words import counted

PER = 1_000_000


@dataclass(frozen=True)
class CostEstimate:
    """An upper bound on a run's cost, before anything is sent."""

    prompts: int
    input_tokens: int
    max_output_tokens: int
    input_usd: float
    output_usd: float
    priced: bool = True  # False: the price is unknown, and the USD figures are 0, not a bound
    free: bool = False  # a local model: priced, and nothing to pay

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.output_usd

    def __repr__(self) -> str:  # the total too: a notebook shows the repr
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"CostEstimate({shown}, total_usd={self.total_usd!r})"

    def __str__(self) -> str:
        """`3 prompts, 120 input tokens, up to 300 output tokens: at most $0.00024 (input
        $0.00006 + output $0.00018)`; a local model's is free, an unpriced model's unknown."""
        head = (f"{counted(self.prompts, 'prompt')}, {self.input_tokens:,} input tokens, up to "
                f"{self.max_output_tokens:,} output tokens")
        if self.free:
            return f"{head}: free (a local model)"
        if not self.priced:
            return f"{head}: price unknown (no price for this model)"
        return (f"{head}: at most {format_usd(self.total_usd)} (input "
                f"{format_usd(self.input_usd)} + output {format_usd(self.output_usd)})")


@dataclass(frozen=True)
class Price:
    """USD per million tokens at the live rate; `batch_discount` is the batch API's multiplier.

    A request of more than `long_context_from` input tokens is billed at the `long_*` rates
    (OpenAI's GPT-5.4 and later above 272K input tokens, some Claude models above 200K; the
    rates come from genai-prices with the model's others):

    >>> p = Price(2.0, 10.0, long_context_from=272_000, long_input_usd_per_mtok=4.0,
    ...           long_output_usd_per_mtok=15.0)
    >>> p.cost(LmUsage(1_000_000, 0)), p.cost(LmUsage(100_000, 0))
    (4.0, 0.2)
    """

    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cached_input_usd_per_mtok: float | None = None
    batch_discount: float = 0.5
    long_context_from: int | None = None
    long_input_usd_per_mtok: float | None = None
    long_output_usd_per_mtok: float | None = None
    # The rates of the service tiers the model is sold at besides the default one, by the
    # tier's name (OpenAI's "flex", "priority": genai-prices' per-tier prices)
    tiers: Mapping[str, Price] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    def rates(self, prompt_tokens: int) -> tuple[float, float, float]:
        """(input, cached input, output) USD per million tokens for a request this long."""
        rate_in, rate_out = self.input_usd_per_mtok or 0.0, self.output_usd_per_mtok or 0.0
        rate_cached = self.cached_input_usd_per_mtok
        if rate_cached is None:
            rate_cached = rate_in
        if self.long_context_from is not None and prompt_tokens > self.long_context_from:
            long_in = self.long_input_usd_per_mtok or rate_in
            # The cached rate scales with the input rate (OpenAI and Anthropic both do so).
            rate_cached = rate_cached * long_in / rate_in if rate_in else rate_cached
            rate_in, rate_out = long_in, self.long_output_usd_per_mtok or rate_out
        return rate_in, rate_cached, rate_out

    def at(self, tier: str | None) -> Price | None:
        """The rates of the service tier that served a request: these for the default one
        (None, "default", "auto", "standard"), a tier's own where known, else None.

        >>> p = Price(2.0, 8.0, tiers={"flex": Price(1.0, 4.0)})
        >>> p.at("flex").input_usd_per_mtok, p.at("default") is p, p.at("priority")
        (1.0, True, None)
        """
        if tier in (None, "default", "auto", "standard"):
            return self
        return self.tiers.get(tier)

    def cost(self, usage: LmUsage, *, batch: bool = False) -> float | None:
        """USD for one request's usage; None when the price or the usage is unknown."""
        if not self.known or usage.prompt_tokens is None or usage.completion_tokens is None:
            return None
        cached = min(usage.cached_prompt_tokens or 0, usage.prompt_tokens)
        rate_in, rate_cached, rate_out = self.rates(usage.prompt_tokens)
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

    A request for n samples is billed its input once and n outputs (OpenAI's `n=`). The
    caller reads bare strings as prompts first (`engine.plan.as_prompts`).
    """
    counts = list(samples) if samples is not None else [p.samples_needed for p in prompts]
    each_in = [input_tokens(p) for p in prompts]
    each_out = [max_output_tokens(p) * n for p, n in zip(prompts, counts)]
    tokens_in, tokens_out = sum(each_in), sum(each_out)
    tier = rates_name(window)  # a service tier's or a background window's rates
    rates = price.at(tier) if tier is not None else price
    if rates is None or not rates.known:
        return CostEstimate(len(prompts), tokens_in, tokens_out, 0.0, 0.0, priced=False)
    price = rates
    mult = price.batch_discount if (batch_priced and window == CompletionWindow.BATCH_ANY) else 1.0
    usd_in = usd_out = 0.0
    for n_in, n_out in zip(each_in, each_out):  # a long prompt may be billed at a higher rate
        rate_in, _, rate_out = price.rates(n_in)
        usd_in += n_in * rate_in
        usd_out += n_out * rate_out
    return CostEstimate(len(prompts), tokens_in, tokens_out, usd_in / PER * mult,
                        usd_out / PER * mult)


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
