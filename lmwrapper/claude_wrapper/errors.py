"""An Anthropic error response as one of lmwrapper's errors: retried, cached, or fatal.

    >>> classify_error(529, {"type": "error", "error": {"type": "overloaded_error",
    ...                      "message": "Overloaded"}}, {}).transient
    True

Pure (status, body, headers) → exception, so the live runner and a batch collector (an
`errored` result carries the same error object) agree on what is worth retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lmwrapper.errors import (
    ConfigurationError,
    LmWrapperError,
    PermanentProviderError,
    RateLimitError,
    TransientProviderError,
)
from lmwrapper.ratelimit import retry_after_seconds

_TRANSIENT_TYPES = ("overloaded_error", "api_error", "timeout_error")
_ACCOUNT_TYPES = ("authentication_error", "permission_error", "not_found_error", "billing_error")


def error_object(body: Any) -> Mapping[str, Any]:
    """The `{type, message}` inside an Anthropic error body (or a bare one)."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return inner
        return {"message": str(inner)}
    return {"message": str(body)} if body else {}


def classify_error(status: int | None, body: Any, headers: Mapping[str, str], *,
                   model: str = "", base_url: str = "") -> LmWrapperError:
    """Transient (429, 529 overloaded, 5xx, 408/409), permanent (other 4xx: cached as an
    error prediction) or a `ConfigurationError` that stops the run (key, model, credit)."""
    err = error_object(body)
    kind = str(err.get("type") or "")
    message = str(err.get("message") or "")
    text = f"Anthropic {status if status is not None else ''} {kind}: {message}".replace("  ", " ")
    retry_after = retry_after_seconds(headers)
    code = str((err.get("details") or {}).get("error_code") or "") if isinstance(
        err.get("details"), Mapping) else ""
    if code == "enforced_spend_limit_reached" or "credit balance" in message.lower():
        return ConfigurationError(f"{text} — the account cannot spend more now; raise its "
                                  "limit or add credit at console.anthropic.com/settings/billing")
    if status == 429 or kind == "rate_limit_error":
        return RateLimitError(text, status_code=status, retry_after=retry_after)
    if status in (401, 402, 403, 404) or kind in _ACCOUNT_TYPES:
        return ConfigurationError(f"{text} — check the API key (ANTHROPIC_API_KEY), the model "
                                  f"name {model!r} and base_url {base_url!r}")
    if status is None or status in (408, 409) or status >= 500 or kind in _TRANSIENT_TYPES:
        return TransientProviderError(text, status_code=status, retry_after=retry_after)
    return PermanentProviderError(text, status_code=status)
