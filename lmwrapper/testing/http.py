"""HTTP plumbing shared by the fake OpenAI and Anthropic endpoints: request and response
values, provider-shaped errors, rate-limit headers, and the route table.

A route handler is a plain function `(server, request) -> Response` that raises `ApiError`
for an error answer; the server turns that into the provider's error body and headers.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

SECRET_HEADERS = ("authorization", "x-api-key", "api-key")
from lmwrapper.testing.state import FakeContext


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    provider: str  # "openai" | "anthropic"
    params: dict[str, str] = dataclasses.field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON, or a 400 in the provider's shape."""
        try:
            body = json.loads(self.body or b"{}")
        except ValueError as e:
            raise ApiError(400, f"We could not parse the JSON body of your request. ({e})")
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return body


@dataclasses.dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes → sent as is
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"
    tokens: int = 0  # counted against the simulated tokens-per-minute window
    wire: str | None = None  # how the socket side frames it (faults.WIRE); None: plainly

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class ApiError(Exception):
    """An error answer. `type` defaults to the provider's name for the status code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param, self.headers = code, param, dict(headers or {})
        self.details = details  # Anthropic's `error.details`, e.g. {"error_code": "..."}


_OPENAI_TYPES = {429: "requests", 500: "server_error", 502: "server_error", 503: "server_error"}
# Anthropic's documented status → error type (platform.claude.com/docs/en/api/errors).
# Other 4xx are `invalid_request_error`, other 5xx `api_error` (503 is not a documented
# overload: only 529 is).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}


def anthropic_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_response(provider: str, err: ApiError, request_id: str) -> Response:
    """The provider's error body: OpenAI `{"error": {message, type, param, code}}`,
    Anthropic `{"type": "error", "error": {type, message}, "request_id": …}`."""
    if provider == "anthropic":
        error: dict[str, Any] = {"type": err.type or anthropic_type(err.status),
                                 "message": err.message}
        if err.details is not None:
            error["details"] = err.details
        body: dict[str, Any] = {"type": "error", "error": error, "request_id": request_id}
    else:
        kind = err.type or _OPENAI_TYPES.get(err.status, "invalid_request_error")
        body = {"error": {"message": err.message, "type": kind, "param": err.param,
                          "code": err.code}}
    return Response(err.status, body, dict(err.headers))


def go_duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(int(seconds * 1000), 0)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def rfc3339(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


class RateWindow:
    """A fixed window of `window_s` seconds with request and token budgets; it reports the
    provider's rate-limit headers and refuses requests past a budget with a 429."""

    def __init__(self, requests: int, tokens: int, window_s: float = 60.0) -> None:
        self.limit_requests, self.limit_tokens, self.window_s = requests, tokens, window_s
        self._lock = threading.Lock()
        self._start, self._requests, self._tokens = time.monotonic(), 0, 0

    def _roll(self) -> float:
        now = time.monotonic()
        if now - self._start >= self.window_s:
            self._start, self._requests, self._tokens = now, 0, 0
        return self.window_s - (now - self._start)

    def admit(self) -> float | None:
        """Count one request; None if admitted, else the seconds until the window resets."""
        with self._lock:
            left = self._roll()
            if self._requests >= self.limit_requests or self._tokens >= self.limit_tokens:
                return left
            self._requests += 1
            return None

    def spend(self, tokens: int) -> None:
        with self._lock:
            self._tokens += tokens

    def headers(self, provider: str, zero_for: float | None = None) -> dict[str, str]:
        """Rate-limit headers; `zero_for` reports an empty budget for that many seconds."""
        with self._lock:
            left = self._roll()
            req_left = max(self.limit_requests - self._requests, 0)
            tok_left = max(self.limit_tokens - self._tokens, 0)
        if zero_for is not None:
            req_left, left = 0, zero_for
        if provider == "anthropic":
            reset = rfc3339(time.time() + left)
            out: dict[str, str] = {}
            for kind, limit, rem in (
                ("requests", self.limit_requests, req_left),
                ("tokens", self.limit_tokens, tok_left),
                ("input-tokens", self.limit_tokens, tok_left),
                ("output-tokens", self.limit_tokens, tok_left),
            ):
                out[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                out[f"anthropic-ratelimit-{kind}-remaining"] = str(rem)
                out[f"anthropic-ratelimit-{kind}-reset"] = reset
            return out
        return {
            "x-ratelimit-limit-requests": str(self.limit_requests),
            "x-ratelimit-limit-tokens": str(self.limit_tokens),
            "x-ratelimit-remaining-requests": str(req_left),
            "x-ratelimit-remaining-tokens": str(tok_left),
            "x-ratelimit-reset-requests": go_duration(left),
            "x-ratelimit-reset-tokens": go_duration(left),
        }


Handler = Callable[[FakeContext, Request], Response]


@dataclasses.dataclass
class Route:
    method: str
    pattern: str  # path with {name} placeholders
    name: str  # the SDK's method name, e.g. "chat.completions" — keys of `counts`
    provider: str
    handler: Handler

    def __post_init__(self) -> None:
        self._regex = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern))

    def match(self, method: str, path: str, provider: str) -> dict[str, str] | None:
        if method != self.method or provider != self.provider:
            return None
        m = self._regex.fullmatch(path)
        return m.groupdict() if m else None


def provider_of(path: str, headers: dict[str, str]) -> str:
    """Anthropic's SDK always sends `anthropic-version`; its paths start /v1/messages."""
    if "anthropic-version" in headers or path.startswith("/v1/messages"):
        return "anthropic"
    return "openai"


def redact(headers: dict[str, str]) -> dict[str, str]:
    """The headers with every credential replaced: a key is never stored or logged."""
    return {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in headers.items()}
