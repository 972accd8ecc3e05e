"""OpenAI's service tiers: which models are sold at which, what a request asks for, what an
answer cost at the tier that served it.

A FLEX window's live requests carry `service_tier: "flex"`, a PRIORITY window's `"priority"`
(`lmwrapper.core.window.SERVICE_TIERS`), on Chat Completions and the Responses API alike
(both have the field: the openai SDK's `CompletionCreateParams` and `ResponseCreateParams`,
3.63.0). What each tier costs, and so which models it is sold for, is genai-prices' data: a
model's price variants `when={"service_tier": ...}` (`models.tier_facts`). OpenAI's own
words, read 2026-12-07:

- flex: "Tokens are priced at Batch API rates" and "Flex processing is in beta with limited
  model availability. Supported models are listed on the pricing page"
  (developers.openai.com/api/docs/guides/flex-processing).
- priority: its own per-model rates (openai.com/api-priority-processing: GPT-5.4 $5.00 in /
  $30.00 out per 1M against $2.50 / $15.00 standard: 2x; GPT-4.1 $3.50 against $2.00: 1.75x).
- the answer's `service_tier` is "the processing mode actually used to serve the request.
  This response value may be different from the value set in the parameter" (the SDK's
  docstring of the field): a priority request may be served, and billed, at the default tier.

Flex's "429 Resource Unavailable" ("You will not be charged when this occurs"; retry with
exponential backoff, or retry at the default tier "if occasional higher costs are worth
ensuring successful completion": the flex guide) is a 429 like any rate limit: the live
runner retries it with backoff, within its `RetryPolicy` (at most `max_retries` attempts and
`max_elapsed_s`), and then answers the prompt with that error, not cached, so a rerun sends
it again. It never falls back to the default tier on its own: that would bill twice the
price the run was planned at.

Background windows (BACKGROUND_2H, BACKGROUND_8H: `lmwrapper.core.window.BACKGROUND_WINDOWS`)
are not service tiers but a discount on the standard one, which genai-prices does not model
(its OpenAI rows, 0.2.5: "background completion-window discounts are not modeled"). OpenAI's
words, read 2026-12-07 on the flex guide
(developers.openai.com/api/docs/guides/flex-processing): "background mode in the Responses
API offers discounted completion windows on supported models. The 2-hour window is 30% below
Standard token pricing, and the 8-hour window is 40% below. The discount applies to every
eligible request" — `BACKGROUND_DISCOUNTS` below. The SDK's `BackgroundOptions` docstring
(openai 3.63.0): "The `2h` and `8h` completion windows require `background: true`, Standard
processing, and `stream: false` or omitted". Which models are "supported" no source we have
lists, so the rule is ours (`check_window`): a model this predictor sends to the Responses API
(a Responses-only model, or `api="responses"`) with a known standard price; OpenAI's own 400
for a model it does not run in background stops the run before more is created.
"""

from __future__ import annotations

from typing import Any

from lmwrapper.core.models import PublishedFacts, genai_prices_version
from lmwrapper.core.money import Price
from lmwrapper.core.prompt import LmUsage
from lmwrapper.core.window import BACKGROUND_WINDOWS, SERVICE_TIERS, CompletionWindow

PRICING_PAGE = "https://developers.openai.com/api/docs/pricing"
# "increase default timeout to 15 minutes (from 10 minutes)": the flex guide's example
FLEX_TIMEOUT_S = 900.0
# Tiers billed above the default rate: served without known rates, their cost is unknown.
_PREMIUM_TIERS = ("priority", "fast", "ultrafast", "scale")
# A background window's price as a share of the standard one ("30% below", "40% below": the
# flex guide, read 2026-12-07; see above), by `CompletionWindow.value`.
BACKGROUND_DISCOUNTS = {"background_2h": 0.7, "background_8h": 0.6}


def tier_prices(tiers: dict[str, PublishedFacts], batch_discount: float) -> dict[str, Price]:
    """`Price.tiers` from genai-prices' rates of each tier (`models.tier_facts`)."""
    return {t: Price(f.input_usd_per_mtok, f.output_usd_per_mtok, f.cache_read_usd_per_mtok,
                     batch_discount, f.long_context_from, f.long_input_usd_per_mtok,
                     f.long_output_usd_per_mtok)
            for t, f in tiers.items()}


def background_prices(price: Price) -> dict[str, Price]:
    """`Price.tiers` of the background windows: every standard rate times the window's share
    (none for a model whose standard price is unknown).

        >>> background_prices(Price(2.0, 8.0))["background_8h"].output_usd_per_mtok
        4.8
    """
    if not price.known:
        return {}

    def times(rate: float | None, share: float) -> float | None:
        return None if rate is None else round(rate * share, 12)

    return {name: Price(times(price.input_usd_per_mtok, share),
                        times(price.output_usd_per_mtok, share),
                        times(price.cached_input_usd_per_mtok, share), price.batch_discount,
                        price.long_context_from, times(price.long_input_usd_per_mtok, share),
                        times(price.long_output_usd_per_mtok, share))
            for name, share in BACKGROUND_DISCOUNTS.items()}


def check_background(model: str, endpoint: str, price: Price, window: CompletionWindow) -> None:
    """`ValueError` for a background window (BACKGROUND_2H, BACKGROUND_8H) a model cannot be
    sent in here: it must go to the Responses API (background mode is a Responses parameter;
    a Chat Completions model's answers are keyed as Chat Completions') and have a known
    standard price (the discount is a share of it)."""
    if window not in BACKGROUND_WINDOWS:
        return
    if endpoint != "responses":
        raise ValueError(
            f"{model} is sent to Chat Completions, which has no background mode: "
            f"CompletionWindow.{window.name} is a Responses API request. Use "
            f"get_open_ai_lm({model!r}, api='responses') (its answers are cached apart from "
            "Chat Completions'), or CompletionWindow.BATCH_ANY for half price within 24 h")
    if not price.known:
        raise ValueError(
            f"{model} has no known standard price ({genai_prices_version()}), so its "
            f"background price ({window.value}: a share of it) is unknown; give "
            "input_usd_per_mtok/output_usd_per_mtok, or use CompletionWindow.ASAP")


def check_window(model: str, price: Price, window: CompletionWindow) -> None:
    """`ValueError` for a service-tier window (FLEX, PRIORITY) the model is not sold in: the
    data has no rates for it (genai-prices follows OpenAI's pricing page)."""
    tier = SERVICE_TIERS.get(window)
    if tier is None or tier in price.tiers:
        return
    other = ("CompletionWindow.BATCH_ANY for the same half price (within 24 h), or ASAP"
             if tier == "flex" else "CompletionWindow.ASAP")
    raise ValueError(
        f"{model} is not sold at OpenAI's {tier} tier: {genai_prices_version()} has no {tier} "
        f"price for it (OpenAI lists the models of each tier on {PRICING_PAGE}; given prices "
        f"carry no tier rates). Use {other}; after `pip install -U genai-prices`, a model newly "
        f"sold at {tier} takes it.")


def served_cost(price: Price, usage: LmUsage, served: Any, *, batch: bool = False,
                background: str | None = None) -> float | None:
    """What a request cost at the tier its answer says served it (`service_tier`). A batch
    line is billed at the batch rate; a background window's request (`background`:
    "background_2h") served at the default tier at that window's rates; a tier with rates of
    its own at those; "flex" without them at the batch rate (the flex guide's words above); a
    premium tier without them is unknown (None); anything else ("default", a compatible
    server's own word, none) at the default rate.

        >>> p = Price(2.0, 8.0, tiers={"priority": Price(4.0, 16.0)})
        >>> u = LmUsage(1_000_000, 0)
        >>> [served_cost(p, u, t) for t in ("default", "priority", "flex", "scale", None)]
        [2.0, 4.0, 1.0, None, 2.0]
        >>> served_cost(Price(2.0, 8.0, tiers=background_prices(Price(2.0, 8.0))), u,
        ...             "default", background="background_2h")
        1.4
    """
    if batch:
        return price.cost(usage, batch=True)
    if background is not None and served in (None, "default", "auto"):
        # a background window's request ("background_2h"): Standard processing, discounted
        rates_bg = price.at(background)
        return rates_bg.cost(usage) if rates_bg is not None else None
    rates = price.at(served) if isinstance(served, str) else price
    if rates is not None:
        return rates.cost(usage)
    if served == "flex":
        return price.cost(usage, batch=True)
    return None if served in _PREMIUM_TIERS else price.cost(usage)


__all__ = ["BACKGROUND_DISCOUNTS", "background_prices", "check_background", "check_window",
           "served_cost", "tier_prices"]
