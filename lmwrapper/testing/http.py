"""HTTP plumbing shared by every provider's fake endpoints: request and response values,
errors, the rate window, the route table, and `FakeApi` — what each provider's fake declares
about its HTTP (`testing/providers/<name>.py`).

A route handler is a plain function `(server, request) -> Response` that raises `ApiError`
for an error answer; the server turns that into the provider's error body and headers (its
`FakeApi.error_body`).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from lmwrapper.core.models import FactSources, is_known
from lmwrapper.testing.state import FakeContext


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    provider: str  # the name of the provider whose fake it goes to (its `FakeApi.name`)
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


def error_response(api: FakeApi, err: ApiError, request_id: str) -> Response:
    """The error answer in the provider's shape (its `FakeApi.error_body`)."""
    return Response(err.status, api.error_body(err, request_id), dict(err.headers))


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

    def budget(self, zero_for: float | None = None) -> RateBudget:
        """What is left of the window (each provider's fake writes it as its rate-limit
        headers); `zero_for` reports an empty budget for that many seconds."""
        with self._lock:
            left = self._roll()
            req_left = max(self.limit_requests - self._requests, 0)
            tok_left = max(self.limit_tokens - self._tokens, 0)
        if zero_for is not None:
            req_left, left = 0, zero_for
        return RateBudget(self.limit_requests, self.limit_tokens, req_left, tok_left, left)


@dataclasses.dataclass(frozen=True)
class RateBudget:
    """One moment of a `RateWindow`: its limits, what is left, seconds until it resets."""

    limit_requests: int
    limit_tokens: int
    requests_left: int
    tokens_left: int
    reset_s: float


Handler = Callable[[FakeContext, Request], Response]


@dataclasses.dataclass
class Route:
    method: str
    pattern: str  # path with {name} placeholders
    name: str  # the SDK's method name, e.g. "chat.completions" — keys of `counts`
    provider: str
    handler: Handler
    # a model call: faults without an endpoint hit it, it waits `latency`, the window counts it
    model_call: bool = False

    def __post_init__(self) -> None:
        self._regex = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern))

    def match(self, method: str, path: str, provider: str) -> dict[str, str] | None:
        if method != self.method or provider != self.provider:
            return None
        m = self._regex.fullmatch(path)
        return m.groupdict() if m else None


def redact(headers: dict[str, str], secret: tuple[str, ...]) -> dict[str, str]:
    """The headers with every credential (`secret`: lower-case names) replaced: a key is
    never stored or logged."""
    return {k: ("<redacted>" if k in secret else v) for k, v in headers.items()}


def listed(sources: FactSources) -> Callable[[str], bool]:
    """A `FakeApi.known`: does the installed SDK's model list or genai-prices know the model
    (`sources`: the provider's)? The real API 404s a name it does not serve; a fake cannot
    know an account's models, so it serves what a maintained source lists."""
    return functools.lru_cache(maxsize=256)(functools.partial(is_known, sources))


@dataclasses.dataclass(frozen=True)
class FakeApi:
    """How one provider's fake speaks HTTP besides its routes: declared as `API` in its
    `testing/providers/<name>.py` (a module its `ProviderSpec.fakes` names), read by the
    server. A module may also declare `BATCHES` (`jobs.BatchSteps`): how its batches end."""

    name: str  # the provider's name in the registry; its routes' `provider`
    error_body: Callable[[ApiError, str], Any]  # (error, request id) → its error body
    rate_limit_headers: Callable[[RateBudget], dict[str, str]]  # the window, as it reports it
    # the shutdown date lmwrapper's model facts give a model (past it, the model is a 404)
    retirement: Callable[[str], datetime.date | None]
    # does a maintained source (the installed SDK's model list, genai-prices) know the model?
    # A name none knows is the provider's 404, as the real API answers a misspelt or unreleased
    # name; None: every name is served (a provider whose model ids no source lists)
    known: Callable[[str], bool] | None = None
    # the context window lmwrapper's model facts give a model (genai-prices, its models.toml):
    # what a request may use when the server is given no `context_limit`
    context_window: Callable[[str], int | None] | None = None
    # does a request (path, lower-case headers) go to it? None: every request no other claims
    claims: Callable[[str, Mapping[str, str]], bool] | None = None
    key_headers: tuple[str, ...] = ()  # headers carrying its key, before `Authorization: Bearer`
    key_hint: str = "Authorization header (Bearer auth)."  # where a missing key goes
    secret_headers: tuple[str, ...] = ()  # other credentials that are never logged
    request_id_header: str = "x-request-id"
    retry_after_ms: bool = False  # a 429 or 5xx says `retry-after-ms` besides `retry-after`
    base_url_var: str | None = None  # `python -m lmwrapper.testing` prints VAR=url + base_path
    base_path: str = ""  # what its SDK's base_url adds to the server's url
    test_model: str | None = None  # a current model its fake serves, for tests that need one

    def key(self, headers: Mapping[str, str]) -> str:
        """The key the request carries ("" if none)."""
        for name in self.key_headers:
            if headers.get(name, "").strip():
                return headers[name].strip()
        auth = headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else ""

    def retry_headers(self, seconds: float) -> dict[str, str]:
        headers = {"retry-after": f"{seconds:g}"}
        if self.retry_after_ms:
            headers["retry-after-ms"] = str(int(seconds * 1000))
        return headers
