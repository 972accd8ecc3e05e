"""`ClaudeBackend`: Anthropic's Messages API, held by `ClaudePredictor` (its front door).

What is Anthropic's: the request body, one attempt over the official SDK (or, for the hot
loop of a live run, `send_async`: the same body over `lmwrapper.runners.lean`), parsing the
answer, counting tokens. The key, the client, scrubbing, pacing (`anthropic-ratelimit-*`,
Retry-After), the live runner and the lean HTTP path are every API provider's
(`lmwrapper.providers.base`), and so is error classification (`lmwrapper.providers.classify`,
with Anthropic's types from `errors.py`). The API has no `n`, so `max_samples_per_request` is 1:
the live runner makes each sample a request of its own, sent concurrently, retried alone and
stored as it arrives, so a failure of sample 3 neither delays nor loses samples 1-2.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from lmwrapper.core.context import ContextNeed
from lmwrapper.core.contract import AsyncPost, Job
from lmwrapper.core.errors import (
    BadResponseError,
    ConfigurationError,
    LmWrapperError,
    install_hint,
)
from lmwrapper.core.limits import SizeLimit
from lmwrapper.core.money import CostEstimate, bound
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import BACKGROUND_WINDOWS, CompletionWindow
from lmwrapper.engine.plan import unique_prompts
from lmwrapper.providers.anthropic import errors, rules, tokens
from lmwrapper.providers.anthropic.batch import ClaudeBatchAdapter, batch_limits
from lmwrapper.providers.anthropic.errors import spend_limit_message
from lmwrapper.providers.anthropic.models import (
    SOURCES,
    ClaudeModelInfo,
    size_limit,
)
from lmwrapper.providers.anthropic.request import (
    MESSAGES_PATH,
    ClaudePrice,
    build_request,
    check_prompt,
    max_tokens_for,
    parse_message,
    split_chat,
)
from lmwrapper.providers.base import HttpApiBackend
from lmwrapper.providers.classify import sdk_errors
from lmwrapper.runners.lean import sdk_http_client
from lmwrapper.runners.live import DEFAULT_RETRY, RetryPolicy
from lmwrapper.runners.ratelimit import LimitHeaders
from lmwrapper.store.db import SqlCache

DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_FILE = "~/anthropic_key.txt"


class ClaudeBackend(HttpApiBackend):
    """Anthropic's side of a Claude model: its requests, answers, tokens and prices."""

    provider = "anthropic"
    display_name = "Anthropic"
    key_env_var = "ANTHROPIC_API_KEY"
    key_file = KEY_FILE
    quota_hint = "raise the limit or add credit at console.anthropic.com/settings/billing"
    supports_batch = True  # BATCH_ANY: Message Batches through lmwrapper.runners.batch
    supports_lean_http = True  # live runs: send_async on one event loop
    fact_sources = SOURCES
    error_codes = errors.CODES
    model: ClaudeModelInfo
    # anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}; reset is an RFC 3339 time
    rate_limit_headers = (LimitHeaders("anthropic-ratelimit-{kind}-limit",
                                       "anthropic-ratelimit-{kind}-remaining",
                                       "anthropic-ratelimit-{kind}-reset"),)
    max_samples_per_request = 1  # no `n`: the runner sends each sample on its own

    def __init__(self, model: ClaudeModelInfo, *, api_key_secret: Any = None,
                 base_url: str | None = None, max_concurrency: int = 8,
                 retry: RetryPolicy = DEFAULT_RETRY, timeout_s: float = 600.0) -> None:
        self.model = model
        super().__init__(
            base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
            api_key_secret=api_key_secret, max_concurrency=max_concurrency, retry=retry,
            timeout_s=timeout_s)
        self._counts = tokens.CountCache()
        self._warned: set[str] = set()

    @functools.cached_property
    def price(self) -> ClaudePrice:
        """Looked up when first needed: a fully cached run never loads the price data."""
        return ClaudePrice.of(self.model)

    # -- identity and validation --------------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        ident = {"provider": self.provider, "model": str(self.model)}
        if self.base_url != DEFAULT_BASE_URL:
            ident["base_url"] = self.base_url
        return ident

    def validate_prompt(self, prompt: LmPrompt) -> None:
        check_prompt(prompt, self.model)

    def size_limits(self, batch: bool) -> tuple[SizeLimit, ...]:
        """Anthropic's byte limit of a Messages request, or (`batch`) of one Message Batches
        line: a batch's lines share one create request, which the planner fills."""
        if batch:
            return (size_limit("batch_request_bytes", "a Message Batches create request (256 MB, "
                               "less room for its envelope)", batch_limits().max_bytes),)
        return (size_limit("request_bytes", "an Anthropic Messages request (32 MB)"),)

    def check_window(self, window: CompletionWindow) -> None:
        """Claude has no per-request flex or priority tier. Its "service tiers" (Priority,
        Standard, Batch: docs.anthropic.com/en/api/service-tiers, read 2026-12-07) are not a
        price a request picks: Priority Tier is capacity an organisation commits to, used
        when it has some; a request's `service_tier` only says "auto" or "standard_only"
        (the anthropic SDK's MessageCreateParams, 2.17.0). The background windows are
        OpenAI's Responses background mode, which the Messages API has no counterpart of."""
        if window in (CompletionWindow.FLEX, CompletionWindow.PRIORITY):
            raise ValueError(
                f"{self.model_name()}: Anthropic sells no {window.value} tier per request "
                "(Priority Tier is capacity an organisation commits to with Anthropic, used "
                "automatically when it has some). Use CompletionWindow.BATCH_ANY (Message "
                "Batches, half price) or ASAP")
        if window in BACKGROUND_WINDOWS:
            raise ValueError(
                f"{self.model_name()}: Anthropic has no background mode; "
                f"CompletionWindow.{window.name} is OpenAI's (Responses API). Use "
                "CompletionWindow.BATCH_ANY (Message Batches, half price, within 24 h) or ASAP")

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
            n = int(json.loads(self._call("count_tokens", body))["input_tokens"])
        except (LmWrapperError, KeyError, TypeError, ValueError) as e:
            self._warn_once("count", f"count_tokens unavailable ({self.scrub(str(e))[:160]}); "
                            "using the offline estimate (characters / 3), which is not exact.")
            return tokens.estimate_claude_tokens(system, messages)
        self._counts.put(key, n)
        return tokens.TokenCount(n, exact=True, source="count_tokens")

    def context_need(self, prompt: LmPrompt) -> ContextNeed | None:
        """The offline estimate of the prompt's tokens plus the `max_tokens` the request
        sends, against the window a source gives (None for a model none describes).
        Anthropic counts the response in the window: "The context window refers to all the
        text a language model can reference when generating a response, including the
        response itself" (platform.claude.com/docs/en/build-with-claude/context-windows,
        read 2026-12-07), and its 400 says "prompt is too long: N tokens > M maximum" with N
        the input plus max_tokens (as the fake answers, testing/providers/anthropic.py).
        Being an estimate, it is refused only when its low end cannot fit
        (`tokens.CLAUDE_MAX_CHARS_PER_TOKEN`)."""
        if not self._window_known:
            return None
        output, window = max_tokens_for(prompt, self.model), self.model.context_window
        if not prompt.is_text_a_chat() and (  # a bare text surely fits: spare the split
                len(prompt.get_text_as_string_default_form()) // tokens.CLAUDE_MAX_CHARS_PER_TOKEN
                + output <= window):
            return None
        system, messages = split_chat(prompt)
        return ContextNeed(
            int(tokens.estimate_claude_tokens(system, messages)), output, window,
            "characters / 3, offline", exact=False,
            low=tokens.fewest_claude_tokens(system, messages),
            margin="characters / 6, as if every token held 6 characters, over 1.7 times "
                   "English's 3.5",
            fix="Shorten the prompt or lower max_tokens; lm.count_tokens(prompt) asks the API "
                "for the exact count (free).")

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        return max_tokens_for(prompt, self.model)

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """Upper bound; every sample is its own request, so its input is billed per sample."""
        # bare strings read as predict_many reads them; a repeated prompt priced once
        prompts, samples = unique_prompts(prompts, samples, self.cache_default)
        counts = list(samples) if samples is not None else [p.samples_needed for p in prompts]
        each = [p for p, n in zip(prompts, counts) for _ in range(n)]
        est = bound(self.price, each, completion_window, samples=[1] * len(each),
                    input_tokens=self.estimate_tokens_in_prompt,
                    max_output_tokens=self.default_max_tokens, batch_priced=self.supports_batch)
        return dataclasses.replace(est, prompts=len(prompts))

    # -- sending ------------------------------------------------------------------------------

    def batch_adapter(self, cache: SqlCache | None = None) -> ClaudeBatchAdapter:
        """Message Batches for `lmwrapper.runners.batch` (the live API's request bodies);
        `cache`: where the batch engine records its jobs (to find a batch it lost track of)."""
        return ClaudeBatchAdapter(self, cache)

    def _make_client(self, key: str) -> Any:
        try:
            import anthropic
        except ImportError as e:
            raise install_hint("anthropic", "anthropic") from e
        return anthropic.Anthropic(api_key=key, base_url=self.base_url, max_retries=0,
                                   http_client=sdk_http_client(anthropic.DefaultHttpxClient),
                                   timeout=self.timeout_s)

    def tokens_for(self, job: Job) -> int:
        """Each sample is a request: its input and max_tokens count once per sample."""
        return (self.estimate_tokens_in_prompt(job.prompt)
                + self.default_max_tokens(job.prompt)) * len(job.sample_indices)

    def send_once(self, job: Job) -> Sequence[LmPrediction]:
        """One attempt at a job: one request per sample (the live runner's have one)."""
        body = build_request(job.prompt, self.model)
        return [self._parse(self._call("messages", body), job.prompt) for _ in job.sample_indices]

    async def send_async(self, job: Job, post: AsyncPost) -> Sequence[LmPrediction]:
        """`send_once` on the live runner's event loop (`lmwrapper.runners.lean`): the same
        body, the same samples, the same parsing, a fraction of the CPU."""
        body = build_request(job.prompt, self.model)
        headers = rules.headers_for(body)  # the API version this body needs, as _call sends
        return [self._parse(await post(MESSAGES_PATH, body, headers), job.prompt)
                for _ in job.sample_indices]

    def _parse(self, text: str, prompt: LmPrompt) -> LmPrediction:
        """The prediction in a 200's body; BadResponseError (retried once: it was billed)."""
        try:
            return parse_message(json.loads(text), prompt, self.model, self.price)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise BadResponseError(f"malformed 200 response from {self.base_url} "
                                   f"({type(e).__name__}: {self.scrub(str(e))[:200]})") from None

    def _call(self, endpoint: str, body: dict[str, Any]) -> str:
        """POST `body` to messages or messages.count_tokens through the SDK's raw-response
        API (the body is ours, so a live call and a batch line are the same), with the API
        version the body needs (not the SDK's default); the answer's text, or our error."""
        resource = self.client().messages
        if endpoint == "count_tokens":
            create = resource.with_raw_response.count_tokens
        else:
            create = resource.with_raw_response.create
        rest = dict(body)
        fixed = {k: rest.pop(k) for k in ("model", "messages", "max_tokens") if k in rest}
        with sdk_errors(self, "anthropic"):
            raw = create(**fixed, extra_body=rest or None, extra_headers=rules.headers_for(body))
        self.limiter.observe(raw.headers)
        return str(raw.text())

    def classify(self, status: int | None, body: Any,
                 headers: Mapping[str, str] | None = None) -> LmWrapperError:
        """The shared rules, after Anthropic's spend limit and empty credit balance, which
        come as a 429 or a 400 but must stop the run rather than be retried or cached."""
        spent = spend_limit_message(body)
        if spent is not None:
            return ConfigurationError(self.scrub(f"Anthropic {status}: {spent} — {self.quota_hint}"))
        return super().classify(status, body, headers)

    def error_fields(self, body: Any) -> Mapping[str, Any]:
        return errors.error_fields(body)

    def missing_model_message(self, fields: Mapping[str, Any]) -> str | None:
        return errors.missing_model_message(fields)

    def _warn_once(self, topic: str, message: str) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            warnings.warn(message, stacklevel=3)

