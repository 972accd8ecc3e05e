"""`OpenAiPredictor`: OpenAI (or any OpenAI-compatible server) behind `LmPredictor`.

The engine hands it the cache misses; it sends them through `LiveRunner` (concurrent,
paced, retried) with the official SDK, one request per prompt (`n=` for samples), and
maps answers and errors back. The API key is looked up only when something must be sent.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lmwrapper import tokens
from lmwrapper.abstract_predictor import CostEstimate, LmPredictor
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.costs import Price, bound
from lmwrapper.backend import Emit, Job
from lmwrapper.errors import (
    ConfigurationError,
    MissingApiKeyError,
    PermanentProviderError,
    ProviderError,
    RateLimitError,
    TransientProviderError,
    install_hint,
)
from lmwrapper.live_runner import LiveRunner, RetryPolicy, RunnerStats
from lmwrapper.openai_wrapper.models import OpenAiModelInfo
from lmwrapper.openai_wrapper.request import (
    INSTRUCT_DEFAULT_MAX_TOKENS,
    build_request,
    check_prompt,
    parse_response,
)
from lmwrapper.ratelimit import RateLimiter, retry_after_seconds, shared_limiter
from lmwrapper.structs import LmPrediction, LmPrompt

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_FILE = "~/oai_key.txt"
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_\-*]{6,}")


class OpenAiPredictor(LmPredictor):
    provider = "openai"
    key_env_var = "OPENAI_API_KEY"
    supports_batch = True  # BATCH_ANY goes to lmwrapper.batching with batch_adapter()

    def __init__(
        self,
        model: OpenAiModelInfo,
        *,
        api_key_secret: Any = None,
        base_url: str | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 300.0,
        cache_default: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(cache_default=cache_default, cache_dir=cache_dir)
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an int >= 1; got {max_concurrency!r}")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.max_concurrency = max_concurrency
        self.retry = retry
        self.timeout_s = timeout_s
        self.limiter = RateLimiter()
        self.last_runner_stats: RunnerStats | None = None
        self.__secret = _Secret(api_key_secret)  # masked in repr / vars() dumps
        self.__key = _Secret(None)
        self._client_obj: Any = None
        self._client_lock = threading.Lock()
        self._warned_batch = False
        self.price = Price(model.input_usd_per_mtok, model.output_usd_per_mtok,
                           model.cached_input_usd_per_mtok, model.batch_discount)

    def __repr__(self) -> str:
        return f"OpenAiPredictor(model={str(self.model)!r}, base_url={self.base_url!r})"

    # -- identity and validation ------------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        ident = {"provider": self.provider, "model": str(self.model),
                 "api": "completions" if self.model.kind == "instruct" else "chat"}
        if self.base_url != DEFAULT_BASE_URL:
            ident["base_url"] = self.base_url
        return ident

    def validate_prompt(self, prompt: LmPrompt) -> None:
        check_prompt(prompt, self.model)

    # -- tokens and money --------------------------------------------------------------------

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        if self.model.kind == "instruct":
            return tokens.count_text_tokens(prompt.get_text_as_string_default_form(),
                                            self.model.encoding)
        return tokens.count_chat_tokens(prompt.get_text_as_chat().as_dicts(), self.model.encoding)

    @property
    def token_limit(self) -> int:
        return self.model.context_window

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        if self.model.kind == "instruct":
            return INSTRUCT_DEFAULT_MAX_TOKENS
        room = self.token_limit - self.estimate_tokens_in_prompt(prompt)
        return max(1, min(self.model.max_output_tokens, room))

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        return bound(self.price, prompts, completion_window, samples=samples,
                     input_tokens=self.estimate_tokens_in_prompt,
                     max_output_tokens=lambda p: p.max_tokens or self.default_max_tokens(p),
                     batch_priced=self.supports_batch)

    def _tokens_for(self, job: Job) -> int:
        """What a request counts against the tokens-per-minute limit.

        OpenAI estimates a request from its characters (about 4 per token) and its
        max_tokens when admitting it (the real usage is only known afterwards); we pace by
        the same estimate, which is also far cheaper than tokenizing every prompt.
        """
        p = job.prompt
        chars = len(p.text) if isinstance(p.text, str) else sum(
            len(t.content) for t in p.get_text_as_chat())
        return chars // 4 + (p.max_tokens or 0) * len(job.sample_indices)

    def batch_adapter(self) -> Any:
        """The OpenAI Batch API for `lmwrapper.batching` (same request bodies as live)."""
        from lmwrapper.openai_wrapper.batch import OpenAiBatchAdapter

        return OpenAiBatchAdapter(self)

    # -- sending -----------------------------------------------------------------------------

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: Callable[[], bool]) -> None:
        if window == CompletionWindow.BATCH_ANY and not self.supports_batch and not self._warned_batch:
            self._warned_batch = True
            warnings.warn("CompletionWindow.BATCH_ANY: the OpenAI Batch API is not implemented yet "
                          "in lmwrapper; these prompts run through the live API at the live price.",
                          stacklevel=2)
        client = self._client()
        runner = LiveRunner(lambda job: self._send(client, job), error_prediction=self.error_prediction,
                            max_concurrency=self.max_concurrency, retry=self.retry,
                            limiter=self.limiter, tokens_for=self._tokens_for)
        self.last_runner_stats = runner.stats
        runner.run(jobs, emit, should_stop)

    def _send(self, client: Any, job: Job) -> Sequence[LmPrediction]:
        import httpx2
        import openai

        n = len(job.sample_indices)
        req = build_request(job.prompt, self.model, n=n)
        try:
            resp = client.post(req.path, body=req.body, cast_to=httpx2.Response)
        except openai.APIStatusError as e:
            self.limiter.observe(e.response.headers)
            raise self._status_error(e) from None
        except openai.APITimeoutError:
            raise TransientProviderError(f"OpenAI request timed out after {self.timeout_s}s") from None
        except (openai.APIConnectionError, httpx2.TransportError) as e:
            raise TransientProviderError(f"connection to {self.base_url} failed: "
                                         f"{self._scrub(str(e.__cause__ or e))}") from None
        self.limiter.observe(resp.headers)
        try:
            preds = parse_response(resp.json(), job.prompt, self.model, self.price)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise TransientProviderError(f"malformed response from {self.base_url} "
                                         f"({type(e).__name__}: {self._scrub(str(e))[:200]})") from None
        if len(preds) != n:
            raise TransientProviderError(f"asked for {n} choices, got {len(preds)}")
        return preds

    def _status_error(self, e: Any) -> Exception:
        """An SDK status error as ours: transient (retried), permanent (cached) or fatal."""
        status = e.status_code
        err = _error_body(e.body)
        code = err.get("code") or err.get("type") or ""
        text = self._scrub(f"OpenAI {status} {code}: {err.get('message') or e.message}".replace(" :", ":"))
        retry_after = retry_after_seconds(e.response.headers)
        if status == 429 and code == "insufficient_quota":
            return ConfigurationError(f"{text} — the account has no credit left; add some at "
                                      "platform.openai.com/settings/organization/billing")
        if status == 429:
            return RateLimitError(text, status_code=status, retry_after=retry_after)
        if status in (401, 403, 404):
            return ConfigurationError(f"{text} — check the API key, the model name "
                                      f"{str(self.model)!r} and base_url {self.base_url!r}")
        if status in (408, 409) or status >= 500:
            return TransientProviderError(text, status_code=status, retry_after=retry_after)
        return PermanentProviderError(text, status_code=status)

    def error_prediction(self, prompt: LmPrompt, error: ProviderError) -> LmPrediction:
        pred = super().error_prediction(prompt, error)
        return pred if pred.error_message is None else _replace_message(pred, self._scrub(pred.error_message))

    # -- key and client ----------------------------------------------------------------------

    def _api_key(self) -> str:
        """Argument, then $OPENAI_API_KEY, then ~/oai_key.txt; MissingApiKeyError otherwise."""
        secret = self.__secret.value
        if secret is not None:
            key = secret.get_secret() if hasattr(secret, "get_secret") else str(secret)
        else:
            key = os.environ.get(self.key_env_var or "", "")
            path = Path(KEY_FILE).expanduser()
            if not key and path.is_file():
                key = path.read_text().strip()
        if not key:
            raise MissingApiKeyError(
                f"no OpenAI API key for {str(self.model)!r}: pass api_key_secret=..., set "
                f"{self.key_env_var}, or put the key in {KEY_FILE}. (Cached prompts need no key; "
                "this run has prompts that are not cached.)")
        return key

    def _client(self) -> Any:
        with self._client_lock:
            if self._client_obj is None:
                try:
                    import openai
                except ImportError as e:
                    raise install_hint("openai", "openai") from e
                self.__key = _Secret(self._api_key())
                # OpenAI's limits are per organisation and model: share the buckets with every
                # object using the same server, key and model (the key only as a fingerprint).
                fingerprint = hashlib.sha256(self.__key.value.encode()).hexdigest()[:16]
                self.limiter = shared_limiter(self.base_url, fingerprint, str(self.model))
                self._client_obj = openai.OpenAI(api_key=self.__key.value, base_url=self.base_url,
                                                 max_retries=0, timeout=self.timeout_s)
            return self._client_obj

    def _scrub(self, text: str) -> str:
        """`text` with the API key (and anything shaped like one) removed."""
        key = self.__key.value
        if key and len(key) >= 4:
            text = text.replace(key, "[api key]")
        return _KEY_LIKE.sub("sk-[redacted]", text)


class _Secret:
    """Holds a key (or a secret object) without showing it in repr, logs or dumps."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>" if self.value is not None else "<no secret>"


def _error_body(body: Any) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        return inner if isinstance(inner, Mapping) else {"message": str(inner)}
    return {}


def _replace_message(pred: LmPrediction, message: str) -> LmPrediction:
    import dataclasses

    return dataclasses.replace(pred, error_message=message)
