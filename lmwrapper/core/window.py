"""When a prediction is needed, and so what it costs: now (live API), later (batch API), or
live at another price (a provider's service tiers)."""

from enum import Enum


class CompletionWindow(Enum):
    """How soon `predict_many` must finish, and at what price.

    ASAP runs live requests (concurrently where the backend allows). BATCH_ANY accepts the
    provider's batch turnaround (up to 24 h) for its lower price; a backend without a batch
    API runs BATCH_ANY prompts as ASAP, so the same code works for every model.

    FLEX and PRIORITY are live requests at another service tier (OpenAI's
    `service_tier="flex"`: the batch price, slower, sometimes refused for want of capacity;
    `"priority"`: faster, at about twice the price). Only a model whose provider sells the
    tier for it takes them: any other refuses the window before anything is sent. Which
    tier served a request is in its answer, and its cost follows that tier.

    BACKGROUND_2H and BACKGROUND_8H create each request as a background response (OpenAI's
    Responses API, `background: true` with `background_options.completion_window` "2h" or
    "8h") and poll for it, at 30 % or 40 % off the standard price. Each is recorded before it
    is created, so a run killed while waiting collects it on the next run instead of paying
    again. Only a model sent to the Responses API takes them.
    """

    ASAP = "asap"
    BATCH_ANY = "batch_any"
    FLEX = "flex"
    PRIORITY = "priority"
    BACKGROUND_2H = "background_2h"
    BACKGROUND_8H = "background_8h"


# A window that is a live request at a service tier → the tier's name (OpenAI's `service_tier`).
SERVICE_TIERS = {CompletionWindow.FLEX: "flex", CompletionWindow.PRIORITY: "priority"}
# A window that is a background response → its completion window (OpenAI's
# `background_options.completion_window`: the openai SDK's `BackgroundOptions`, 3.63.0).
BACKGROUND_WINDOWS = {CompletionWindow.BACKGROUND_2H: "2h", CompletionWindow.BACKGROUND_8H: "8h"}


def rates_name(window: CompletionWindow) -> str | None:
    """The name of the rates a window's requests are billed at (`money.Price.tiers`): a
    service tier's ("flex"), a background window's ("background_2h"), None for the default
    rates (ASAP; BATCH_ANY is the default rates times the batch discount)."""
    if window in BACKGROUND_WINDOWS:
        return window.value
    return SERVICE_TIERS.get(window)
