"""When a prediction is needed: now (live API) or whenever is cheapest (batch API)."""

from enum import Enum


class CompletionWindow(Enum):
    """How soon `predict_many` must finish.

    ASAP runs live requests (concurrently where the backend allows). BATCH_ANY accepts the
    provider's batch turnaround (up to 24 h) for its lower price; a backend without a batch
    API runs BATCH_ANY prompts as ASAP, so the same code works for every model.
    """

    ASAP = "asap"
    BATCH_ANY = "batch_any"
