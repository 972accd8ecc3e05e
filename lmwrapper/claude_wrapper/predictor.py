"""`ClaudePredictor`: Anthropic's Messages API behind `LmPredictor`.

The engine hands it the cache misses; it sends them through the shared `LiveRunner`
(concurrent, paced by the `anthropic-ratelimit-*` headers, retried) with the official SDK.
The API has no `n`, so a job's samples are separate requests; samples already answered are
kept across retries of the job, so a failure of sample 3 does not pay for samples 1–2 again.
The API key is looked up only when something must be sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lmwrapper import tokens
from lmwrapper.abstract_predictor import CostEstimate, LmPredictor
from lmwrapper.backend import Emit, Job
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.claude_wrapper.errors import classify_error
from lmwrapper.claude_wrapper.models import ClaudeModelInfo
from lmwrapper.claude_wrapper.request import (
    COUNT_TOKENS_PATH,
    MESSAGES_PATH,
    ClaudePrice,
    build_request,
    check_prompt,
    max_tokens_for,
    parse_message,
    split_chat,
)
from lmwrapper.costs import bound
from lmwrapper.errors import (
    LmWrapperError,
    MissingApiKeyError,
    ProviderError,
    TransientProviderError,
    install_hint,
)
from lmwrapper.live_runner import LiveRunner, RetryPolicy, RunnerStats
from lmwrapper.ratelimit import RateLimiter, shared_limiter
from lmwrapper.structs import LmPrediction, LmPrompt

DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_FILE = "~/anthropic_key.txt"
_KEY_LIKE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{6,}")


class ClaudePredictor(LmPredictor):
    provider = "anthropic"
    key_env_var = "ANTHROPIC_API_KEY"
    supports_batch = False  # Message Batches wait for the batch engine; BATCH_ANY runs live

    def __init__(self, model: ClaudeModelInfo, *, api_key_secret: Any = None,
                 base_url: str | None = None, max_concurrency: int = 8,
                 retry: RetryPolicy | None = None, timeout_s: float = 600.0,
                 cache_default: bool = True, cache_dir: str | None = None) -> None:
        super().__init__(cache_default=cache_default, cache_dir=cache_dir)
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an int >= 1; got {max_concurrency!r}")
        self.model = model
        self.base_url = (base_url or os.environ.get("ANTHROPIC_BASE_URL")
                         or DEFAULT_BASE_URL).rstrip("/")
        self.max_concurrency, self.timeout_s = max_concurrency, timeout_s
        self.retry = retry or RetryPolicy()
        self.price = ClaudePrice.of(model)
        self.limiter = RateLimiter()
        self.last_runner_stats: RunnerStats | None = None
        self.__secret = _Hidden(api_key_secret)  # out of repr and vars() dumps
        self.__key = _Hidden(None)
        self._client_obj: Any = None
        self._client_lock = threading.Lock()
        self._counts = tokens.CountCache()
        self._partial: dict[tuple[str, int], LmPrediction] = {}
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return f"ClaudePredictor(model={str(self.model)!r}, base_url={self.base_url!r})"

    # -- identity and validation --------------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        ident = {"provider": self.provider, "model": str(self.model)}
        if self.base_url != DEFAULT_BASE_URL:
            ident["base_url"] = self.base_url
        return ident

    def validate_prompt(self, prompt: LmPrompt) -> None:
        check_prompt(prompt, self.model)

    # -- tokens and money ---------------------------------------------------------------------

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        """An offline estimate (`TokenCount.exact` is False): Anthropic publishes no
        tokenizer. `count_tokens` asks the API for the exact number."""
        system, messages = split_chat(prompt)
        return tokens.estimate_claude_tokens(system, messages)

    def count_tokens(self, prompt: LmPrompt) -> tokens.TokenCount:
        """Input tokens of `prompt` from the count_tokens endpoint (free; cached in memory),
        or, when the API cannot be reached or no key is set, the offline estimate, with a
        warning saying it is one."""
        system, messages = split_chat(prompt)
        body: dict[str, Any] = {"model": str(self.model), "messages": messages}
        if system:
            body["system"] = system
        key = json.dumps(body, sort_keys=True, ensure_ascii=False)
        cached = self._counts.get(key)
        if cached is not None:
            return tokens.TokenCount(cached, exact=True, source="count_tokens (cached)")
        try:
            answer = self._post(self._client(), COUNT_TOKENS_PATH, body)
            n = int(answer["input_tokens"])
        except (LmWrapperError, KeyError, TypeError, ValueError) as e:
            self._warn_once("count", f"count_tokens unavailable ({self._scrub(str(e))[:160]}); "
                            "using the offline estimate (characters / 3), which is not exact.")
            return tokens.estimate_claude_tokens(system, messages)
        self._counts.put(key, n)
        return tokens.TokenCount(n, exact=True, source="count_tokens")

    @property
    def token_limit(self) -> int:
        return self.model.context_window

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        return max_tokens_for(prompt, self.model)

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """Upper bound; every sample is its own request, so its input is billed per sample."""
        counts = list(samples) if samples is not None else [p.samples_needed for p in prompts]
        each = [p for p, n in zip(prompts, counts) for _ in range(n)]
        est = bound(self.price, each, completion_window, samples=[1] * len(each),
                    input_tokens=self.estimate_tokens_in_prompt,
                    max_output_tokens=self.default_max_tokens, batch_priced=self.supports_batch)
        return dataclasses.replace(est, prompts=len(prompts))

    def _tokens_for(self, job: Job) -> int:
        """What one attempt counts against the tokens-per-minute limits (input + output)."""
        n = len(job.sample_indices)
        return (self.estimate_tokens_in_prompt(job.prompt) + self.default_max_tokens(job.prompt)) * n

    # -- sending ------------------------------------------------------------------------------

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: Callable[[], bool]) -> None:
        if window == CompletionWindow.BATCH_ANY and not self.supports_batch:
            self._warn_once("batch", "CompletionWindow.BATCH_ANY: Message Batches are not wired "
                            "to the batch engine yet; these prompts run through the live API "
                            "at the live price.")
        client = self._client()
        runner = LiveRunner(lambda job: self.send_once(client, job),
                            error_prediction=self.error_prediction,
                            max_concurrency=self.max_concurrency, retry=self.retry,
                            limiter=self.limiter, tokens_for=self._tokens_for)
        self.last_runner_stats = runner.stats
        runner.run(jobs, emit, should_stop)

    def send_once(self, client: Any, job: Job) -> list[LmPrediction]:
        """One attempt at a job: one request per sample still missing."""
        body = build_request(job.prompt, self.model)
        out = []
        for i in job.sample_indices:
            pred = self._partial.get((job.key, i))
            if pred is None:
                pred = self._parse(self._post(client, MESSAGES_PATH, body), job.prompt)
                self._partial[(job.key, i)] = pred
            out.append(pred)
        for i in job.sample_indices:
            self._partial.pop((job.key, i), None)
        return out

    def _parse(self, answer: Any, prompt: LmPrompt) -> LmPrediction:
        try:
            return parse_message(answer, prompt, self.model, self.price)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise TransientProviderError(f"malformed response from {self.base_url} "
                                         f"({type(e).__name__}: {self._scrub(str(e))[:200]})") from None

    def _post(self, client: Any, path: str, body: dict[str, Any]) -> Any:
        """POST `body`; the parsed JSON answer, or one of our errors."""
        import anthropic
        import httpx2

        try:
            resp = client.post(path, body=body, cast_to=httpx2.Response)
        except anthropic.APIStatusError as e:
            self.limiter.observe(e.response.headers)
            raise self._classified(e.status_code, e.body, e.response.headers) from None
        except anthropic.APITimeoutError:
            raise TransientProviderError(f"Anthropic request timed out after {self.timeout_s}s") from None
        except (anthropic.APIConnectionError, httpx2.TransportError) as e:
            raise TransientProviderError(f"connection to {self.base_url} failed: "
                                         f"{self._scrub(str(e.__cause__ or e))}") from None
        self.limiter.observe(resp.headers)
        try:
            return resp.json()
        except ValueError as e:
            raise TransientProviderError(f"malformed response from {self.base_url} ({e})") from None

    def _classified(self, status: int, body: Any, headers: Any) -> LmWrapperError:
        err = classify_error(status, body, headers, model=str(self.model), base_url=self.base_url)
        err.args = (self._scrub(str(err)),)
        return err

    def error_prediction(self, prompt: LmPrompt, error: ProviderError) -> LmPrediction:
        pred = super().error_prediction(prompt, error)
        return pred.evolve(error_message=self._scrub(pred.error_message or ""))

    # -- key and client -----------------------------------------------------------------------

    def _api_key(self) -> str:
        """Argument, then $ANTHROPIC_API_KEY, then ~/anthropic_key.txt."""
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
                f"no Anthropic API key for {str(self.model)!r}: pass api_key_secret=..., set "
                f"{self.key_env_var}, or put the key in {KEY_FILE}. (Cached prompts need no key; "
                "this run has prompts that are not cached.)")
        return key

    def _client(self) -> Any:
        with self._client_lock:
            if self._client_obj is None:
                try:
                    import anthropic
                except ImportError as e:
                    raise install_hint("anthropic", "anthropic") from e
                key = self._api_key()
                self.__key = _Hidden(key)
                # Limits are per organisation and model: share the buckets with every object
                # using the same server, key (as a fingerprint) and model.
                fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
                self.limiter = shared_limiter(self.base_url, fingerprint, str(self.model))
                self._client_obj = anthropic.Anthropic(api_key=key, base_url=self.base_url,
                                                       max_retries=0, timeout=self.timeout_s)
            return self._client_obj

    def _scrub(self, text: str) -> str:
        """`text` without the API key (or anything shaped like an Anthropic key)."""
        key = self.__key.value
        if key and len(key) >= 4:
            text = text.replace(key, "[api key]")
        return _KEY_LIKE.sub("sk-ant-[redacted]", text)

    def _warn_once(self, topic: str, message: str) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            warnings.warn(message, stacklevel=3)


class _Hidden:
    """Holds a key (or a secret object) without showing it in repr, logs or dumps."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>" if self.value is not None else "<no secret>"
