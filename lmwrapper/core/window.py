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
    """

    ASAP = "asap"
    BATCH_ANY = "batch_any"
    FLEX = "flex"
    PRIORITY = "priority"


# A window that is a live request at a service tier → the tier's name (OpenAI's `service_tier`).
SERVICE_TIERS = {CompletionWindow.FLEX: "flex", CompletionWindow.PRIORITY: "priority"}
