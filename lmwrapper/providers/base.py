"""What every API provider shares: the key, the client, secrets, pacing, the live runner.

A provider subclasses `HttpApiBackend`, declares its capabilities as class attributes and
implements three hooks; everything else (key lookup, the lazy client, scrubbing, the
shared rate limiter, the live runner, error predictions) is here, once:

    class ClaudeBackend(HttpApiBackend):
        provider, display_name = "anthropic", "Anthropic"
        key_env_var, key_file = "ANTHROPIC_API_KEY", "~/anthropic_key.txt"

        def _make_client(self, key):        # the SDK client; called once, lazily
            return anthropic.Anthropic(api_key=key, base_url=self.base_url, max_retries=0)
        def send_once(self, job):           # ONE attempt: predictions, or a ProviderError
            ... except anthropic.APIStatusError as e:
                    raise self.classify(e.status_code, e.body, e.response.headers)
        def model_identity(self): ...

and, for live runs on one event loop over the lean client (`lmwrapper.runners.lean`), a
fourth: `supports_lean_http = True` and `async def send_async(self, job, post)`.

Its public class is a thin front door over it, an `ApiPredictor`
(`lmwrapper.providers.predictor`: `predict`, `predict_many`, the cache), which builds the
backend from the same constructor arguments and holds it:

    class ClaudePredictor(ApiPredictor):
        backend_class = ClaudeBackend

How a failure is read (`classify_error`, `sdk_errors`) is `lmwrapper.providers.classify`;
`HttpApiBackend.classify` hands it this provider's codes, error reader, hints and scrubbing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from lmwrapper.core.contract import AsyncPost, Job
from lmwrapper.core.errors import (
    LmWrapperError,
    MissingApiKeyError,
    ModelNotFoundError,
    ProviderError,
)
from lmwrapper.core.models import FactSources, ModelInfo, model_not_found_hint
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.engine import fork
from lmwrapper.engine.backend import LmBackend
from lmwrapper.providers.api_keys import checked_key
from lmwrapper.providers.classify import ErrorKind, classify_error, error_fields
from lmwrapper.runners.lean import LeanSender, lean_http_allowed
from lmwrapper.runners.live import DEFAULT_RETRY, AsyncSender, LiveRunner, RetryPolicy, RunnerStats
from lmwrapper.runners.ratelimit import X_RATELIMIT, LimitHeaders, RateLimiter, shared_limiter

# The key shape many providers share (OpenAI's `sk-...`, Anthropic's `sk-ant-...`, and most
# OpenAI-compatible servers'): scrubbed from every message of every provider, even when it is
# not our key. A provider whose keys look otherwise declares its own `key_pattern`.
_SK_KEY = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")


class HttpApiBackend(LmBackend):
    """Base of every HTTP API backend (OpenAI, Anthropic, compatible servers); its front
    door is an `ApiPredictor`."""

    display_name: ClassVar[str] = "API"  # for messages: "OpenAI 429 rate_limit_exceeded: ..."
    key_file: ClassVar[str | None] = None  # e.g. "~/oai_key.txt", read after the env var
    quota_hint: ClassVar[str] = "add credit on the provider's billing page"
    # its error codes (error.code or error.type) → what they mean; see classify_error
    error_codes: ClassVar[Mapping[str, ErrorKind]] = {}
    # whether `send_async` is written: live runs then go over the lean client on one event loop
    supports_lean_http: ClassVar[bool] = False
    # the names of its rate-limit headers (the limiter learns the account's limits from them)
    rate_limit_headers: ClassVar[tuple[LimitHeaders, ...]] = (X_RATELIMIT,)
    # anything shaped like one of its keys (besides the shared `sk-` shape), and what replaces
    # it in every message (even when it is not our key: a server may echo another one)
    key_pattern: ClassVar[re.Pattern[str] | None] = None
    # where the maintained sources list its models (a "did you mean" for a name it refuses)
    fact_sources: ClassVar[FactSources] = FactSources()
    key_mask: ClassVar[str] = "[redacted key]"
    model: ModelInfo  # the model and its facts: set by the provider's backend

    def __init__(
        self,
        *,
        base_url: str,
        api_key_secret: Any = None,
        max_concurrency: int = 8,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 300.0,
    ) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an int >= 1; got {max_concurrency!r}")
        self.base_url = base_url.rstrip("/")
        self.max_concurrency = max_concurrency
        self.retry = retry
        self.timeout_s = timeout_s
        # replaced by the account's shared one with the client
        self.limiter = RateLimiter(headers=self.rate_limit_headers)
        self.last_runner_stats: RunnerStats | None = None
        self.__secret = _Secret(api_key_secret)  # masked in repr / vars(); dropped by pickle
        self.__key = _Secret(None)
        self._client_obj: Any = None
        self._client_lock = threading.Lock()

    @property
    def token_limit(self) -> int:
        return int(self.model.context_window)

    @functools.cached_property
    def _window_known(self) -> bool:
        """Whether a source gives the model's context window (else it is a default, a guess,
        and no prompt is refused for it: `context_need` is None)."""
        return self.model.window_source() is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.repr_fields()})"

    def repr_fields(self) -> str:
        """What its repr (and its front door's) shows: never the key."""
        return f"model={self.model_name()!r}, base_url={self.base_url!r}"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the key, the client (which holds it), locks or open connections:
        an unpickled copy looks the key up again (env var, key file) when it must send."""
        state = dict(self.__dict__)  # the _Secret holders drop any key (see _Secret.__reduce__)
        state["_HttpApiBackend__key"] = _Secret(None)
        state.update(_client_obj=None, _client_lock=None, limiter=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()
        self.limiter = RateLimiter(headers=self.rate_limit_headers)

    def _after_fork(self) -> None:
        """In a forked child: a client of its own (the parent's shares its sockets)."""
        super()._after_fork()
        fork.inherit(self.__dict__.get("_client_obj"))
        self._client_obj = None
        self._client_lock = threading.Lock()
        self.limiter = RateLimiter(headers=self.rate_limit_headers)

    # -- hooks a provider implements ---------------------------------------------------------

    def _make_client(self, key: str) -> Any:
        """The provider's SDK client for `key` (SDK retries off: the runner retries)."""
        raise NotImplementedError

    def send_once(self, job: Job) -> Sequence[LmPrediction]:
        """ONE attempt at `job`: one prediction per sample index, or raise a ProviderError
        (use `classify`) or a ConfigurationError (stops the run)."""
        raise NotImplementedError

    async def send_async(self, job: Job, post: AsyncPost) -> Sequence[LmPrediction]:
        """Optional (with `supports_lean_http = True`): what `send_once` does, on an event
        loop, each request sent as `text = await post(path, body)` (`lmwrapper.runners.lean`
        does the headers, the limiter and the errors)."""
        raise NotImplementedError

    def async_sender(self) -> Callable[[], AsyncSender] | None:
        """The live runner's event-loop sender (hundreds of requests in flight at little
        CPU), or None: it sends through `send_once` on threads. None when the provider has no
        `send_async`, behind a proxy, with an SDK client on an http client of the user's own,
        or with `LMWRAPPER_LIVE_HTTP=sdk`."""
        if not self.supports_lean_http or not lean_http_allowed(self.base_url, self._client_obj):
            return None
        return lambda: LeanSender(self)

    # -- the key and the client --------------------------------------------------------------

    def api_key(self) -> str:
        """The argument, then `$key_env_var`, then `key_file`; MissingApiKeyError otherwise."""
        secret = self.__secret.value
        if secret is not None:
            key = secret.get_secret() if hasattr(secret, "get_secret") else str(secret)
            key = checked_key(key, "api_key_secret")
        else:
            key = checked_key(os.environ.get(self.key_env_var or "", ""), f"${self.key_env_var}")
            path = Path(self.key_file).expanduser() if self.key_file else None
            if not key and path is not None and path.is_file():  # a file ends with a newline
                key = checked_key(path.read_text(), str(path), warn=False)
        if not key:
            where = [f"set ${self.key_env_var}"] if self.key_env_var else []
            where += [f"put the key in {self.key_file}"] if self.key_file else []
            where += ["in Python pass api_key_secret=<key>"]  # the CLI reads the first two
            raise MissingApiKeyError(
                f"no {self.display_name} API key for {self.model_name()!r}: "
                f"{' or '.join([', '.join(where[:-1]), where[-1]] if where[:-1] else where)}. "
                "(Cached prompts need no key; this run has prompts that are not cached.)")
        return key

    def client(self) -> Any:
        """The SDK client, made on first use (thread-safe). Looking the key up here, not in
        __init__, lets a fully cached run go without one."""
        with self._client_lock:
            if self._client_obj is None:
                key = self.api_key()
                client = self._make_client(key)
                self.__key = _Secret(key)
                # Limits are per account and model: share the buckets with every object using
                # the same server, key and model (the key only as a fingerprint).
                fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
                self.limiter = shared_limiter(self.base_url, fingerprint, self.model_name(),
                                              headers=self.rate_limit_headers)
                self._client_obj = client
            return self._client_obj

    def scrub(self, text: str) -> str:
        """`text` with the API key (and anything shaped like a key) removed."""
        for secret in (self.__key.value, self.__secret.value):
            if isinstance(secret, str) and len(secret) >= 4:
                text = text.replace(secret, "[api key]")
        text = _SK_KEY.sub("sk-[redacted]", text)
        return self.key_pattern.sub(self.key_mask, text) if self.key_pattern else text

    # -- running -----------------------------------------------------------------------------

    def live_runner(self) -> LiveRunner:
        """A `backend.Runner` sending jobs through `send_once`: concurrent, paced, retried.

        Call it when there is something to send: it looks the key up (MissingApiKeyError)
        and joins the account's shared rate limiter. `last_runner_stats` is its stats."""
        self.client()
        runner = LiveRunner(self.send_once, error_prediction=self.error_prediction,
                            max_concurrency=self.max_concurrency, retry=self.retry,
                            limiter=self.limiter, tokens_for=self.tokens_for,
                            async_sender=self.async_sender(),
                            max_samples_per_request=self.max_samples_per_request)
        self.last_runner_stats = runner.stats
        return runner

    def tokens_for(self, job: Job) -> int:
        """What a request counts against a tokens-per-minute limit.

        Providers admit a request by an estimate from its characters (about 4 per token)
        and its max_tokens (real usage is known only afterwards); we pace by the same
        estimate, which is also far cheaper than tokenizing every prompt."""
        p = job.prompt
        chars = len(p.text) if isinstance(p.text, str) else sum(
            len(t.content) for t in p.get_text_as_chat())
        return chars // 4 + (p.max_tokens or 0) * len(job.sample_indices)

    def classify(self, status: int | None, body: Any,
                 headers: Mapping[str, str] | None = None) -> LmWrapperError:
        """`classify_error` with this provider's label, codes, reader, hints and scrubbing; a
        404 for the model itself is a `ModelNotFoundError` (it stops the run, see errors.py)."""
        missing = (self.missing_model_message(self.error_fields(body))
                   if status in (None, 404) else None)  # None: a batch line with only an error
        if missing is not None:
            return self.model_not_found(status, missing)
        return classify_error(
            status, body, headers, label=self.display_name, codes=self.error_codes,
            config_hint=(f"check the API key, the model name {self.model_name()!r} and "
                         f"base_url {self.base_url!r}"),
            quota_hint=self.quota_hint, scrub=self.scrub, fields=self.error_fields)

    def error_fields(self, body: Any) -> Mapping[str, Any]:
        """The error object in one of its error bodies (code, type, message); the shared
        reader takes `{"error": {...}}` and the inner object alone."""
        return error_fields(body)

    def missing_model_message(self, fields: Mapping[str, Any]) -> str | None:
        """The provider's message when an error (its fields) says the model does not exist,
        else None (the default: a provider that cannot tell)."""
        return None

    def model_not_found(self, status: int | None, message: str) -> ModelNotFoundError:
        """The provider's "no such model", with the names it may have meant."""
        name = self.model_name()
        said = self.scrub(f"{self.display_name}{f' {status}' if status else ''}: {message}")
        retired = getattr(getattr(self, "model", None), "retires", None)  # OpenAI's, Claude's
        return ModelNotFoundError(
            f"model {name!r} not found ({' '.join(said.split())}) — "
            f"{model_not_found_hint(self.fact_sources, name, retired)}",
            model=name, status_code=status, code="model_not_found")

    def error_prediction(self, prompt: LmPrompt, error: ProviderError) -> LmPrediction:
        pred = super().error_prediction(prompt, error)
        if pred.error_message is None:
            return pred
        return dataclasses.replace(pred, error_message=self.scrub(pred.error_message))


DEFAULT_MAX_CONCURRENCY = 8


def live_settings(max_concurrency: int | None, retry: RetryPolicy | None, *, max_retries: int,
                  max_retry_time_s: float, retry_on_rate_limit: bool) -> tuple[int, RetryPolicy]:
    """What every API factory (`get_open_ai_lm`, `get_claude_lm`) resolves the same way:
    requests in flight — the argument, else `$LMWRAPPER_MAX_CONCURRENCY`, else 8 — and the
    retry policy — `retry` when given, else one built from the three simple settings."""
    if max_concurrency is None:
        max_concurrency = int(os.environ.get("LMWRAPPER_MAX_CONCURRENCY") or DEFAULT_MAX_CONCURRENCY)
    if retry is None:
        retry = RetryPolicy(max_retries=max_retries, max_elapsed_s=max_retry_time_s,
                            retry_rate_limits=retry_on_rate_limit)
    return max_concurrency, retry


class _Secret:
    """Holds a key (or a secret object) without showing it in repr, logs, dumps or pickles."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>" if self.value is not None else "<no secret>"

    def __reduce__(self) -> tuple[Any, ...]:
        # a holder that says where the key is, not what it is (0.18's SecretEnvVar and
        # SecretFile declare `pickles_without_key`), may travel; a key never does
        kept = self.value if getattr(self.value, "pickles_without_key", False) is True else None
        return (_Secret, (kept,))
