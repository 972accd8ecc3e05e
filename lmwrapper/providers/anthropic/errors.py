"""Anthropic errors the shared classifier (`lmwrapper.providers.base.classify_error`) cannot
tell from their status and type alone.

    >>> spend_limit_message({"type": "error", "error": {"type": "invalid_request_error",
    ...     "message": "Your credit balance is too low to access the Anthropic API."}})
    'Your credit balance is too low to access the Anthropic API.'

Both the monthly spend cap (a 429 `rate_limit_error` whose `details.error_code` is
`enforced_spend_limit_reached`) and an empty credit balance (a 400
`invalid_request_error`) look like errors that are retried or cached; neither goes away
until someone changes the account, so the run must stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SPEND_LIMIT_CODE = "enforced_spend_limit_reached"


def spend_limit_message(body: Any) -> str | None:
    """The error's message when `body` says the account cannot spend, else None."""
    if not isinstance(body, Mapping):
        return None
    err = body.get("error", body)
    if not isinstance(err, Mapping):
        return None
    if isinstance(err.get("error"), Mapping):  # a batch line's {"type": "error", "error": …}
        err = err["error"]
    message = str(err.get("message") or "")
    details = err.get("details")
    code = details.get("error_code") if isinstance(details, Mapping) else None
    if code == SPEND_LIMIT_CODE or "credit balance is too low" in message.lower():
        return message or code
    return None
