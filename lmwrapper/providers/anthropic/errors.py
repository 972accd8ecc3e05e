"""Anthropic's errors as the shared classifier (`lmwrapper.providers.base.classify_error`)
reads them: its error types (`CODES`), its error body, its "no such model", and the errors it
cannot tell from their status and type alone.

An Anthropic error body is `{"type": "error", "error": {"type", "message"}, "request_id"}`;
the type says what happened (`rate_limit_error`, `overloaded_error`, ...), whatever the
status. A 404 `not_found_error` is a missing model only when its message names the model:

    >>> missing_model_message(error_fields({"type": "error", "error": {
    ...     "type": "not_found_error", "message": "model: claude-sonet-5-5"}}))
    'model: claude-sonet-5-5'

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

from lmwrapper.providers.base import ErrorKind, json_body
from lmwrapper.providers.base import error_fields as shared_error_fields

SPEND_LIMIT_CODE = "enforced_spend_limit_reached"
# `error.type` → what it means for the run (platform.claude.com/docs/en/api/errors)
CODES: Mapping[str, ErrorKind] = {
    "billing_error": "quota", "rate_limit_error": "rate_limit",
    "authentication_error": "config", "permission_error": "config", "not_found_error": "config",
    "request_too_large": "permanent",
    "api_error": "transient", "overloaded_error": "transient",
}


def error_fields(body: Any) -> Mapping[str, Any]:
    """The error object's type and message, also from a batch line's result error, which
    nests the body one level deeper (`{"error": {"type": "error", "error": {...}}}`)."""
    body = json_body(body)
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping) and isinstance(
            body["error"].get("error"), Mapping):
        body = body["error"]
    return shared_error_fields(body)


def missing_model_message(fields: Mapping[str, Any]) -> str | None:
    """The message of a `not_found_error` that names the model (its other 404s — a batch or
    a file gone — are not this)."""
    message = str(fields.get("message") or "")
    code = fields.get("code") or fields.get("type")
    if code == "not_found_error" and message.startswith("model:"):
        return message
    return None


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
