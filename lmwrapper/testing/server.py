"""`FakeServer`: a loopback HTTP fake of the OpenAI and Anthropic APIs, with fault injection.

    >>> with FakeServer() as srv:
    ...     client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
    ...     srv.rate_limit(times=1, retry_after=0.01)     # the next model call gets a 429
    ...     client.chat.completions.create(model="gpt-5.4-mini", messages=[...])  # RateLimitError
    ...     srv.counts["chat.completions"]
    1

It is a real server (stdlib `ThreadingHTTPServer` on 127.0.0.1, an ephemeral port, one
thread per connection), so the official SDKs talk to it unmodified through `base_url` and
every layer of a client — connection pool, retries, timeouts — is exercised. It imports no
SDK (which models are retired it reads from lmwrapper's model facts, as the client does).
Sockets are in `transport.py`; batch job life cycles in `jobs.py`; answers, tokens and
logprobs in `text.py`; faults in `faults.py`. Each registered provider's fake is found through
the registry (its spec's `fakes` modules: `providers/openai.py`, `providers/openai_batches.py`
(files, Batch API), `providers/openai_azure.py` (Azure OpenAI's URLs) and
`providers/anthropic.py`), each declaring its `ROUTES`, its `API`
(which requests are its, its error body, rate-limit, key and request-id headers) and, with a
batch API, its `BATCHES`; nothing here names a provider.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import importlib
import json
import os
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any, Self

from lmwrapper.core import models as model_facts
from lmwrapper.providers.registry import PROVIDERS
from lmwrapper.testing import jobs as fake_jobs
from lmwrapper.testing.faults import Fault, FaultPlan
from lmwrapper.testing.http import (
    ApiError,
    FakeApi,
    RateWindow,
    Request,
    Response,
    Route,
    error_response,
    redact,
)
from lmwrapper.testing.providers import openai_batches as fake_batches
from lmwrapper.testing.state import AnthropicLimits, FakeState, Fate
from lmwrapper.testing.text import AnswerBook, AnswerFn, Tokenizer, tokenize
from lmwrapper.testing.transport import LoopbackHttpServer

# The query parameter a wire fault's redirect adds: the request that follows it is not faulted.
REDIRECTED = "lmwrapper_fake_redirected"
DEFAULT_CONTEXT_LIMIT = 128_000  # tokens a request may use where no window is known


def _declared(name: str) -> list[Any]:
    """What every registered provider's fake modules (its spec's `fakes`) declare as `name`."""
    modules = [importlib.import_module(m) for p in PROVIDERS.values() for m in p.spec().fakes]
    found = [getattr(m, name) for m in modules if hasattr(m, name)]
    return [item for value in found for item in (value if isinstance(value, list) else [value])]


ROUTES: list[Route] = _declared("ROUTES")
APIS: dict[str, FakeApi] = {api.name: api for api in _declared("API")}
BATCHES: list[fake_jobs.BatchSteps] = _declared("BATCHES")
# Credentials never logged: the Bearer token and every provider's key headers.
SECRET_HEADERS = tuple(dict.fromkeys(["authorization", *(h for api in APIS.values()
                                                         for h in (*api.key_headers,
                                                                   *api.secret_headers))]))


def api_for(path: str, headers: dict[str, str]) -> FakeApi:
    """The provider a request goes to: the first whose fake claims it, else the one that
    takes the rest (OpenAI's: compatible clients send nothing telling)."""
    claiming = [api for api in APIS.values() if api.claims is not None]
    for api in claiming:
        if api.claims is not None and api.claims(path, headers):
            return api
    return next(api for api in APIS.values() if api.claims is None)


@dataclasses.dataclass
class RecordedRequest:
    """One request as the server saw it. Credentials are replaced by `<redacted>`."""

    route: str  # e.g. "chat.completions"; "unknown" when no route matched
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw bytes when the body is not JSON
    at: float
    status: int | None = None  # None: the connection was dropped
    fault: str | None = None


class FakeServer:
    """A fake OpenAI + Anthropic API on loopback. See the module docstring and README.

    latency: seconds every model call waits (settable later as `srv.latency`).
    api_key: accept only this key (default: any non-empty one).
    tokenize: text → tokens, for usage counts, `max_tokens` and logprobs.
    context_limit / context_limits: tokens a request may use (prompt + max_tokens), by
        default and per model name; beyond it, a 400 `context_length_exceeded`.
        `context_limit=None` (the default): each model's own window, as lmwrapper's model
        facts give it (genai-prices, the provider's models.toml), else 128,000.
    requests_per_minute / tokens_per_minute: a simulated one-minute window, reported in
        the rate-limit headers and enforced with 429s.
    batch_polls_per_step / batch_seconds_per_step: how fast batches move on.
    batch_shuffle: result files in an order unlike the input's (as the real APIs may).
    batch_token_limit: OpenAI enqueued-token limit per model (`token_limit_exceeded`).
    tls: an `ssl.SSLContext` with the server's certificate: serve HTTPS instead.
    azure_deployments / azure_batch_deployments: Azure OpenAI's deployment names → models
        (set them as attributes; see `providers/openai_azure.py`).
    missing_models: names answered with the provider's 404 "no such model" (settable later
        as `srv.missing_models`); besides them, every name whose shutdown date (the installed
        SDK's table, else the provider's models.toml) is before `today`, as the real API
        answers a retired model, and every name no maintained source knows (the installed
        SDK's model list, genai-prices), as the real API answers a misspelt one.
    extra_models: names served although no source knows them (a model released after the
        installed SDK and genai-prices; settable later as `srv.extra_models`). `today` defaults to `$LMWRAPPER_FAKE_TODAY` (ISO date), else
        the client's `$LMWRAPPER_TODAY`, else the real date: a test suite pins one, so that a
        model retiring next month does not fail it then.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        latency: float = 0.0,
        api_key: str | None = None,
        tokenize: Tokenizer = tokenize,
        context_limit: int | None = None,
        context_limits: dict[str, int] | None = None,
        requests_per_minute: int = 1_000_000,
        tokens_per_minute: int = 1_000_000_000,
        batch_polls_per_step: int = 1,
        batch_seconds_per_step: float = 0.0,
        batch_shuffle: bool = True,
        batch_token_limit: int | None = None,
        missing_models: set[str] | None = None,
        extra_models: set[str] | None = None,
        today: datetime.date | None = None,
        verbose: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self._port = host, port
        self.latency = latency
        self.api_key = api_key
        self.tokenize = tokenize
        self.context_limit = context_limit
        self.context_limits = dict(context_limits or {})
        self.rate_window = RateWindow(requests_per_minute, tokens_per_minute)
        self.batch_polls_per_step = batch_polls_per_step
        self.batch_seconds_per_step = batch_seconds_per_step
        self.batch_shuffle = batch_shuffle
        self.batch_token_limit = batch_token_limit
        self.anthropic_limits = AnthropicLimits()  # request sizes, batch sizes: settable
        # OpenAI's service tiers (testing/providers/openai.py `serve_tier`): the share of
        # flex requests refused with 429 "Resource Unavailable", and the tiers asked for that
        # are served (and so billed) at "default"
        self.flex_unavailable = 0.0
        self.downgrade_tiers: set[str] = set()
        # Azure OpenAI's deployments (name → model): standard ones serve live calls,
        # Global-Batch ones batches (`providers/openai_azure.py`); none until a test sets them
        self.azure_deployments: dict[str, str] = {}
        self.azure_batch_deployments: dict[str, str] = {}
        self.missing_models = set(missing_models or ())
        self.extra_models = set(extra_models or ())
        self.today = today
        self.verbose = verbose
        self.tls = tls
        self.faults = FaultPlan()
        self.answers = AnswerBook()
        self.lock = threading.RLock()  # guards the log and the stores below
        self.state = FakeState()  # files, batches, batch faults: typed, see state.py
        self._log: list[RecordedRequest] = []
        self._counts: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self.peak_in_flight = 0  # most model calls being served at once (proves no queueing)
        self._httpd: LoopbackHttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> Self:
        if self._httpd is None:
            self._httpd = LoopbackHttpServer((self.host, self._port), self.respond,
                                             verbose=self.verbose)
            if self.tls is not None:  # the handshake happens as each connection is accepted
                self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"FakeServer:{self.port}", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection. Safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, no trailing slash."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What `openai.OpenAI(base_url=…)` takes: `…/v1`."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """What `anthropic.Anthropic(base_url=…)` takes (the SDK adds `/v1/…` itself)."""
        return self.url

    # -- answers ---------------------------------------------------------------------
    def set_answer(self, fn: AnswerFn | None) -> None:
        """Answer with `fn(AnswerRequest) -> str | None` (None: the default answer)."""
        self.answers.set_fn(fn)

    def add_answer(self, prompt: str, text: str, *, exact: bool = False) -> None:
        """Answer `text` to every prompt containing `prompt` (or equal to it, with
        `exact=True`: the completion prompt or the last user message). Newest first."""
        self.answers.add(prompt, text, exact)

    def clear_answers(self) -> None:
        self.answers.clear()

    def context_limit_for(self, model: str, provider: str | None = None) -> int:
        """`context_limits[model]`, else `context_limit`, else (None) the model's own window
        as its provider's model facts give it, else 128,000."""
        if model in self.context_limits:
            return self.context_limits[model]
        if self.context_limit is not None:
            return self.context_limit
        api = APIS.get(provider) if provider else None
        window = None
        if api is not None and api.context_window is not None:
            try:
                window = api.context_window(model)
            except Exception:  # noqa: BLE001 — a name the facts cannot read: the default
                window = None
        return window or DEFAULT_CONTEXT_LIMIT

    def model_missing(self, provider: str, model: str) -> bool:
        """Whether `model` gets the provider's 404: named in `missing_models`, known to no
        maintained source (unless in `extra_models`), or retired (its shutdown date is before
        `today`: the installed SDK's table, else the provider's models.toml, as the client
        reads them)."""
        if model in self.missing_models:
            return True
        api = APIS[provider]
        if model not in self.extra_models and api.known is not None and not api.known(model):
            return True
        shutdown = api.retirement(model)
        return shutdown is not None and shutdown < (self.today or _default_today())

    # -- faults ----------------------------------------------------------------------
    def inject(self, kind: str = "status", **options: Any) -> Fault:
        """Program a fault; see `Fault` for the options. Returns it (`.fired` counts hits)."""
        return self.faults.add(Fault(kind, **options))

    def rate_limit(self, times: int | None = 1, *, retry_after: float = 1.0,
                   **options: Any) -> Fault:
        """Answer 429 with `Retry-After` (OpenAI: also `retry-after-ms`) and the provider's
        rate-limit headers reporting an empty budget."""
        return self.inject("status", status=429, times=times, retry_after=retry_after,
                           **options)

    def server_error(self, times: int | None = 1, *, status: int = 500,
                     **options: Any) -> Fault:
        """Answer 500 (or 503, 529, … with `status=`)."""
        options.setdefault("retry_after", None)
        return self.inject("status", status=status, times=times, **options)

    def drop_connections(self, times: int | None = 1, **options: Any) -> Fault:
        """Close the connection after reading the request, without answering."""
        return self.inject("drop", times=times, **options)

    def lose_responses(self, times: int | None = 1, **options: Any) -> Fault:
        """Handle the request, then close the connection without the answer (a network
        failure after the server acted). `endpoint="batches.create"` and the like."""
        return self.inject("lose_response", times=times, **options)

    def malformed_responses(self, times: int | None = 1, **options: Any) -> Fault:
        """Answer 200 with a truncated body that is not valid JSON."""
        return self.inject("malformed", times=times, **options)

    def wire_faults(self, wire: str, times: int | None = None, **options: Any) -> Fault:
        """Answer with HTTP framed as `wire` says (`faults.WIRE`: trailers, 100 Continue,
        raw deflate, a repeated Content-Length, redirects): see `Fault`."""
        return self.inject("wire", wire=wire, times=times, **options)

    def slow_responses(self, delay: float, times: int | None = None,
                       **options: Any) -> Fault:
        """Sleep `delay` seconds (on top of `latency`) before answering normally."""
        return self.inject("slow", delay=delay, times=times, **options)

    def clear_faults(self) -> None:
        """Forget every programmed fault: live, batch line and batch fates."""
        self.faults.clear()
        with self.lock:
            self.state.line_faults.clear()
            self.state.next_fates.clear()

    # -- batch faults ----------------------------------------------------------------
    def fail_next_batch(self, code: str = "token_limit_exceeded",
                        message: str | None = None) -> None:
        """The next OpenAI batch fails its validation with this error code."""
        error = fake_batches.token_limit_error("", self.batch_token_limit)
        if code != "token_limit_exceeded" or message:
            error = {"code": code, "message": message or f"Injected batch failure: {code}.",
                     "param": None, "line": None}
        fake_jobs.program_fate(self, "openai", Fate("fail", error=error))

    def expire_next_batch(self, completed: int | None = None,
                          provider: str = "openai") -> None:
        """The next batch expires with only its first `completed` lines answered (default
        half); the rest come back as expired (OpenAI: `batch_expired` error lines)."""
        fake_jobs.program_fate(self, provider, Fate("expire", completed=completed))

    def batch_line_errors(self, times: int | None = None, *, status: int = 500,
                          **options: Any) -> Fault:
        """Batch lines (of either provider) that match fail with this HTTP status; options
        as for `inject` (`match=`, `fraction=`, `seed=`, `message=`, `code=`)."""
        fault = Fault("status", status=status, times=times, endpoint=fake_jobs.LINE_ROUTE,
                      retry_after=None, **options)
        with self.lock:
            fake_jobs.line_faults(self).append(fault)
        return fault

    def finish_batches(self) -> None:
        """Move every unfinished batch to its end state now, without polling."""
        with self.lock:
            jobs = list(self.state.batches.values())
            for steps in BATCHES:
                fake_jobs.finish(self, steps, jobs)

    # -- the log ---------------------------------------------------------------------
    @property
    def counts(self) -> dict[str, int]:
        """Requests received per route name (`"chat.completions"`, `"batches.create"`, …)."""
        with self.lock:
            return dict(self._counts)

    def count(self, route: str) -> int:
        with self.lock:
            return self._counts[route]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy)."""
        with self.lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self.lock:
            self._log.clear()
            self._counts.clear()

    def _record(self, rec: RecordedRequest) -> None:
        with self.lock:
            self._log.append(rec)
            self._counts[rec.route] += 1

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:24]}"

    # -- one request -----------------------------------------------------------------
    def respond(self, method: str, target: str, headers: dict[str, str],
                body: bytes) -> Response | None:
        """Route, record and answer one request; None means drop the connection."""
        parsed = urllib.parse.urlsplit(target)
        provider = api_for(parsed.path, headers).name
        query = dict(urllib.parse.parse_qsl(parsed.query))
        req = Request(method, parsed.path.rstrip("/"), query, headers, body, provider)
        route = None
        for candidate in ROUTES:
            params = candidate.match(req.method, req.path, provider)
            if params is not None:
                route, req.params = candidate, params
                break
        rec = RecordedRequest(route.name if route else "unknown", req.method, req.path,
                              redact(headers, SECRET_HEADERS), _body_for_log(body), time.time())
        self._record(rec)
        resp = self.handle(req, route, rec)
        rec.status = resp.status if resp is not None else None
        return resp

    def handle(self, req: Request, route: Route | None, rec: RecordedRequest) -> Response | None:
        """The response to send, or None to drop the connection."""
        request_id = self.new_id("req_")
        api = APIS[req.provider]
        try:
            if route is None:
                raise ApiError(404, f"Unknown request URL: {req.method} {req.path}.",
                               code="unknown_url")
            self._check_key(req)
            resp = self._serve(req, route, rec)
        except ApiError as err:
            resp = error_response(api, err, request_id)
        except Exception as e:  # noqa: BLE001 — a bug in the fake: say so, don't hang
            traceback.print_exc(file=sys.stderr)
            resp = error_response(api, ApiError(500, f"fake server bug: {e!r}"), request_id)
        if resp is not None:
            resp.headers.setdefault(api.request_id_header, request_id)
            for k, v in api.rate_limit_headers(self.rate_window.budget()).items():
                resp.headers.setdefault(k, v)
        return resp

    def _serve(self, req: Request, route: Route, rec: RecordedRequest) -> Response | None:
        # the request a wire fault's redirect sent here is served as it is
        fault = (None if REDIRECTED in req.query
                 else self.faults.pick(route.name, req.body, model_call=route.model_call))
        rec.fault = fault.kind if fault else None
        if route.model_call:
            with self._in_flight_gauge():
                return self._serve_model_call(req, route, fault)
        return self._answer(req, route, fault)

    def _serve_model_call(self, req: Request, route: Route, fault: Fault | None) -> Response | None:
        if self.latency > 0:
            time.sleep(self.latency)
        return self._answer(req, route, fault)

    @contextlib.contextmanager
    def _in_flight_gauge(self) -> Iterator[None]:
        with self.lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self.lock:
                self._in_flight -= 1

    def _answer(self, req: Request, route: Route, fault: Fault | None) -> Response | None:
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "lose_response":
                route.handler(self, req)
                return None
            elif fault.kind == "wire":
                return self._wire(req, route, fault)
            else:
                return self._fault_response(req, fault)
        wait = self.rate_window.admit() if route.model_call else None
        if wait is not None:
            raise ApiError(429, "Rate limit reached for requests (simulated window).",
                           code="rate_limit_exceeded",
                           headers=APIS[req.provider].retry_headers(wait))
        resp = route.handler(self, req)
        self.rate_window.spend(resp.tokens)
        return resp

    def _wire(self, req: Request, route: Route, fault: Fault) -> Response:
        """A normal answer framed as `fault.wire` says, or a redirect (not billed)."""
        if fault.wire is not None and fault.wire.startswith("redirect_"):
            status = 307 if fault.wire == "redirect_away" else int(fault.wire[-3:])
            host = "localhost" if fault.wire == "redirect_away" else self.host
            query = urllib.parse.urlencode({**req.query, REDIRECTED: "1"})
            return Response(status, b"", {"location": f"http://{host}:{self.port}{req.path}"
                                                      f"?{query}"}, content_type="text/plain")
        resp = route.handler(self, req)
        resp.wire = fault.wire
        return resp

    def _fault_response(self, req: Request, fault: Fault) -> Response | None:
        if fault.kind == "drop":
            return None
        if fault.kind == "malformed":
            return Response(200, b'{"id": "malformed", "choices": [{"index": 0, "mess')
        api = APIS[req.provider]
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers.update(api.retry_headers(fault.retry_after))
        if fault.status == 429:
            headers.update(api.rate_limit_headers(self.rate_window.budget(zero_for=fault.retry_after)))
        message, code = fault.message, fault.code
        if fault.status == 429:
            message = message or "Rate limit reached for requests (injected fault)."
            code = code or "rate_limit_exceeded"
        raise ApiError(fault.status, message or f"Injected fault: HTTP {fault.status}.",
                       code=code, headers=headers, details=fault.details)

    def _check_key(self, req: Request) -> None:
        api = APIS[req.provider]
        key = api.key(req.headers)
        if not key:
            raise ApiError(401, f"You didn't provide an API key. Send it in the {api.key_hint}",
                           code="missing_api_key")
        if self.api_key is not None and key != self.api_key:
            # Never echo the key, not even masked: the message may end up in a log.
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def _body_for_log(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


def _default_today() -> datetime.date:
    """`$LMWRAPPER_FAKE_TODAY`, else the client's day (`$LMWRAPPER_TODAY`, else the real
    date): one pin moves both."""
    pinned = os.environ.get("LMWRAPPER_FAKE_TODAY")
    return datetime.date.fromisoformat(pinned) if pinned else model_facts.today()
