"""Anthropic's errors as the shared classifier (`lmwrapper.providers.classify.classify_error`)
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

import re
from collections.abc import Mapping
from typing import Any

from lmwrapper.providers.classify import ErrorKind, json_body
from lmwrapper.providers.classify import error_fields as shared_error_fields

SPEND_LIMIT_CODE = "enforced_spend_limit_reached"
# A Message Batches create past the per-batch request count is a 400 `invalid_request_error`.
# Anthropic documents the limit (100,000 requests or 256 MB, platform.claude.com/docs/en/
# build-with-claude/batch-processing, read 2026-12-07) but not the message's wording; our
# fake says "requests: a Message Batch holds at most N requests; got M." A message without
# "at most N requests" still splits (the runner halves); only the number is read here.
_AT_MOST_REQUESTS = re.compile(r"at most ([\d,]+) requests", re.IGNORECASE)
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


def batch_request_limit(message: str) -> int | None:
    """The per-batch request limit a refused create names, if it names one:

        >>> batch_request_limit("requests: a Message Batch holds at most 20 requests; got 45.")
        20
        >>> batch_request_limit("requests: too many") is None
        True
    """
    m = _AT_MOST_REQUESTS.search(message)
    return int(m.group(1).replace(",", "")) if m else None


def too_many_requests(status_code: int | None, message: str) -> bool:
    """A 400 that refuses a create for its request count."""
    text = message.lower()
    return status_code == 400 and "requests" in text and (
        "at most" in text or "too many" in text)


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
