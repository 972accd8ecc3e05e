"""How a provider's failure is read: status, body and headers in, one of our errors out.

The policy is shared; the facts are each provider's (`providers/<name>/errors.py`: its error
codes, its error body, its "no such model"), handed in by its backend
(`HttpApiBackend.classify`). The kinds it tells apart (`ErrorKind`): a rate limit, an account
out of credit, our configuration (key, model, URL), a transient failure, the prompt's own
error, and a refusal that is none of these; what each does to a run is the runners' policy
(`lmwrapper.runners.live`, the batch collector).

`classify_error` is a pure function of (status, body, headers), so a live answer (an SDK
exception's status and body, or the lean client's) and a batch result line
(`{status_code, body}` or `{error: {code}}`) are judged by the same rules. `sdk_errors`
turns the official SDKs' exceptions into ours, through the backend's `classify`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from lmwrapper.core.contract import ApiBackend
from lmwrapper.core.errors import (
    ConfigurationError,
    LmWrapperError,
    ModelNotFoundError,
    PermanentProviderError,
    RateLimitError,
    RejectedRequestError,
    TransientProviderError,
)
from lmwrapper.runners.lean import refusal_error, refused_behind
from lmwrapper.runners.ratelimit import retry_after_seconds
from lmwrapper.runners.transport import HttpRefusedError

# What a provider error means for the run (see classify_error).
ErrorKind = Literal["rate_limit", "quota", "config", "transient", "permanent", "rejected"]

# Error codes mean what their provider says, whatever the status: each provider declares
# its own (`HttpApiBackend.error_codes`, from its folder's errors.py) and passes them as `codes=`.
# Without them, the status decides. Errors without a telling code that still belong to the
# prompt (Anthropic says `invalid_request_error` + "prompt is too long: 210000 tokens >
# 200000 maximum"):
_PROMPT_FAULT = re.compile(
    r"prompt is too long|maximum context length|context (length|window)|too many tokens|"
    r"content (management )?policy|flagged|safety system", re.IGNORECASE)
_CONFIG_STATUS = (401, 403, 404)
_TRANSIENT_STATUS = (408, 409, 529)  # 529: Anthropic's "overloaded"


def classify_error(
    status: int | None,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    label: str,
    codes: Mapping[str, ErrorKind] | None = None,
    config_hint: str = "check the API key, the model name and base_url",
    quota_hint: str = "add credit on the provider's billing page",
    scrub: Callable[[str], str] = lambda text: text,
    fields: Callable[[Any], Mapping[str, Any]] | None = None,
) -> LmWrapperError:
    """Our error for a provider error given as data, live or from a batch line.

        >>> classify_error(400, {"error": {"code": "context_length_exceeded",
        ...                               "message": "too long"}}, label="OpenAI",
        ...                codes={"context_length_exceeded": "permanent"})
        PermanentProviderError('OpenAI 400 context_length_exceeded: too long')

    `body`: the parsed JSON (`{"error": {...}}`, the inner error object), its text, or
    None; `fields` reads a provider's own shape (default `error_fields`). `codes`: the
    provider's error codes and what they mean. `status` None means a batch line that has
    only an error code. Returns (never raises):
    429 → RateLimitError (Retry-After from `headers`); out of credit → ConfigurationError;
    401/403/404 → ConfigurationError (stops the run); 408/409/5xx/529 → TransientProviderError;
    an error of the prompt (context too long, a content refusal) → PermanentProviderError
    (cached); any other refusal, or a body we cannot read → RejectedRequestError (not cached).
    """
    found = (fields or error_fields)(body)
    code = str(found.get("code") or found.get("type") or "")
    message = str(found.get("message") or "")
    if not found:
        message = f"an error we cannot read: {str(body)[:200]!r}" if body else "no error body"
    text = scrub(" ".join(s for s in (label, str(status or ""), code) if s) + f": {message}")
    retry_after = retry_after_seconds(headers) if headers else None
    kind = _kind(status, code, message, bool(found), codes or {})
    common: dict[str, Any] = {"status_code": status, "code": code or None}
    if kind == "quota":
        return ConfigurationError(f"{text} — the account has no credit left; {quota_hint}")
    if kind == "config":
        return ConfigurationError(f"{text} — {config_hint}")
    if kind == "rate_limit":
        return RateLimitError(text, retry_after=retry_after, **common)
    if kind == "transient":
        return TransientProviderError(text, retry_after=retry_after, **common)
    if kind == "permanent":
        return PermanentProviderError(text, **common)
    return RejectedRequestError(
        f"{text} — refused for a reason that is not the prompt's, so it is not cached and a "
        "rerun sends it again; if it persists, the request or the model settings need a fix",
        **common)


def _kind(status: int | None, code: str, message: str, readable: bool,
          codes: Mapping[str, ErrorKind]) -> ErrorKind:
    if code in codes:
        return codes[code]
    if status == 429:
        return "rate_limit"
    if status == 402:
        return "quota"
    if status in _CONFIG_STATUS:
        return "config"
    if status in _TRANSIENT_STATUS or (status is not None and status >= 500):
        return "transient"
    # Only an error we can read can be the prompt's: a proxy's HTML page is not an answer.
    if readable and (status == 413 or _PROMPT_FAULT.search(message)):
        return "permanent"
    return "rejected"


def json_body(body: Any) -> Any:
    """`body` parsed when it is JSON text or bytes (unchanged otherwise; {} if unreadable)."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return {}
    return body


def error_fields(body: Any) -> Mapping[str, Any]:
    """The error object inside `body` (code/type/message), or {} if there is none: the
    shared shape, `{"error": {...}}` or the inner object alone. A provider whose bodies read
    otherwise gives its own reader (`HttpApiBackend.error_fields`)."""
    body = json_body(body)
    if not isinstance(body, Mapping):
        return {}
    inner = body.get("error", body)
    if not isinstance(inner, Mapping):
        return {"message": str(inner)} if inner else {}
    known = {k: inner[k] for k in ("code", "type", "message") if inner.get(k)}
    if known.get("type") == "error" and "code" not in known:
        known.pop("type")  # an envelope's type that says only "error" says nothing
    return known


# -- the official SDKs' exceptions -----------------------------------------------------------

class GoneError(PermanentProviderError):
    """A file or batch the provider no longer has (404 from a batch endpoint)."""

    def __init__(self, message: str, *, status_code: int | None = 404,
                 code: str | None = None) -> None:
        super().__init__(message, status_code=status_code, code=code)


@contextlib.contextmanager
def sdk_errors(lm: ApiBackend, sdk_module: str, *,
               timeout_error: type[TransientProviderError] = TransientProviderError,
               gone: bool = False) -> Iterator[None]:
    """The official SDK's exceptions as lmwrapper's, for the live and the batch paths of every
    provider (OpenAI's and Anthropic's SDKs are generated alike: same names, same fields).

    A status error observes the rate-limit headers and goes through `lm.classify`; with
    `gone`, a 404 is `GoneError` (a batch or file that no longer exists). A timeout is
    `timeout_error` (the batch engine passes `TimedOut`: the provider may still act on it),
    a dropped connection a `TransientProviderError`. What a retry cannot mend (an untrusted
    certificate, a redirect away from the origin) stops the run as on the lean path.
    """
    sdk = importlib.import_module(sdk_module)
    try:
        yield
    except HttpRefusedError as e:  # our redirect hook (`sdk_http_client`), let through
        raise refusal_error(lm.base_url, lm.scrub(str(e)), e) from None
    except sdk.APIStatusError as e:
        lm.limiter.observe(e.response.headers)
        error = lm.classify(e.status_code, e.body, e.response.headers)
        # a batch create naming a model that does not exist is not a batch that is gone
        if gone and e.status_code == 404 and not isinstance(error, ModelNotFoundError):
            # naming the request: a 404 of a lookup (`GET /v1/files`) is not one of a create
            raise GoneError(f"{lm.scrub(str(e))} ({e.request.method} "
                            f"{lm.scrub(e.request.url.path)})") from None  # status_code 404
        raise error from None
    except sdk.APITimeoutError:  # (a subclass of APIConnectionError: first)
        raise timeout_error(f"{lm.display_name} request to {lm.base_url} timed out after "
                            f"{lm.timeout_s:g}s") from None
    except sdk.APIConnectionError as e:
        if (refused := refused_behind(e)) is not None:
            raise refusal_error(lm.base_url, lm.scrub(str(refused)), refused) from None
        raise TransientProviderError(f"connection to {lm.base_url} failed: "
                                     f"{lm.scrub(str(e.__cause__ or e))}") from None
