"""OpenAI's error codes and its "no such model", for the shared classifier
(`lmwrapper.providers.classify.classify_error`).

An OpenAI error body is `{"error": {"message", "type", "param", "code"}}`; a batch line's
error is the inner object alone. The shared reader takes both; what is OpenAI's is what its
codes mean, whatever the status (`insufficient_quota` comes as a 429 but is no rate limit):

    >>> from lmwrapper.providers.classify import classify_error
    >>> classify_error(429, {"error": {"code": "insufficient_quota", "message": "m"}},
    ...                label="OpenAI", codes=CODES)
    ConfigurationError("OpenAI 429 insufficient_quota: m — the account has no credit left; add credit on the provider's billing page")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmwrapper.providers.classify import ErrorKind

# `error.code` (live) and batch-line codes → what they mean for the run (see classify_error)
CODES: Mapping[str, ErrorKind] = {
    "insufficient_quota": "quota", "billing_hard_limit_reached": "quota",
    "rate_limit_exceeded": "rate_limit",
    "invalid_api_key": "config", "model_not_found": "config",
    "context_length_exceeded": "permanent", "string_above_max_length": "permanent",
    "content_policy_violation": "permanent", "content_filter": "permanent",
    "invalid_prompt": "permanent",
    "server_error": "transient", "timeout": "transient", "request_timeout": "transient",
    "batch_expired": "transient",
}


def missing_model_message(fields: Mapping[str, Any]) -> str | None:
    """The message of an error that says the model does not exist (`model_not_found`)."""
    if (fields.get("code") or fields.get("type")) == "model_not_found":
        return str(fields.get("message") or "model_not_found")
    return None
