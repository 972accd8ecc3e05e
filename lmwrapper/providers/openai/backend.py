"""`OpenAiBackend`: OpenAI (or any OpenAI-compatible server), held by `OpenAiPredictor`.

What is OpenAI's: the request body, one attempt over the official SDK (or, for the hot
loop of a live run, `send_async`: the same body over `lmwrapper.runners.lean`), parsing the
answer, counting tokens. The key, the client, scrubbing, pacing, the live runner, the lean
HTTP path are every API provider's (`lmwrapper.providers.base`), and so is error
classification (`lmwrapper.providers.classify`, with OpenAI's codes from `errors.py`).
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
from lmwrapper.core.errors import BadResponseError, install_hint
from lmwrapper.core.limits import SizeLimit
from lmwrapper.core.money import CostEstimate, Price, bound
from lmwrapper.core.prompt import LmPrediction, LmPrompt, usual_settings
from lmwrapper.core.window import BACKGROUND_WINDOWS, SERVICE_TIERS, CompletionWindow
from lmwrapper.engine.plan import unique_prompts
from lmwrapper.providers.base import HttpApiBackend
from lmwrapper.providers.classify import sdk_errors
from lmwrapper.providers.openai import errors, models, tiers, tokens
from lmwrapper.providers.openai.background import OpenAiBackgroundAdapter
from lmwrapper.providers.openai.batch import OpenAiBatchAdapter
from lmwrapper.providers.openai.models import (
    SOURCES,
    OpenAiModelInfo,
    tier_facts,
)
from lmwrapper.providers.openai.request import (
    INSTRUCT_DEFAULT_MAX_TOKENS,
    OpenAiRequest,
    build_request,
    check_prompt,
    endpoint_for,
    parse_response,
)
from lmwrapper.providers.openai.rules import samples_per_request
from lmwrapper.runners.lean import sdk_http_client
from lmwrapper.runners.live import DEFAULT_RETRY, RetryPolicy
from lmwrapper.store.db import SqlCache

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_FILE = "~/oai_key.txt"
# settings validate_prompt remembers at most: a file whose every line asks its own
# max_tokens is checked line by line past these, rather than held in memory
_CHECKED_MAX = 4096


class OpenAiBackend(HttpApiBackend):
    """OpenAI's side of a model: its requests, answers, tokens and prices."""

    provider = "openai"
    display_name = "OpenAI"
    key_env_var = "OPENAI_API_KEY"
    key_file = KEY_FILE
    quota_hint = "add some at platform.openai.com/settings/organization/billing"
    supports_batch = True  # BATCH_ANY goes to lmwrapper.runners.batch with batch_adapter()
    supports_background = True  # BACKGROUND_2H / _8H: background_adapter() (tiers.py says where)
    supports_lean_http = True  # live runs: send_async on one event loop
    fact_sources = SOURCES
    error_codes = errors.CODES
    model: OpenAiModelInfo

    def __init__(
        self,
        model: OpenAiModelInfo,
        *,
        api_key_secret: Any = None,
        base_url: str | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 300.0,
    ) -> None:
        self.model = model
        self._flex_warned = False
        # usual settings → the model check_prompt passed them for (validate_prompt)
        self._checked: dict[tuple[int | None, float], OpenAiModelInfo] = {}
        super().__init__(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            api_key_secret=api_key_secret, max_concurrency=max_concurrency, retry=retry,
            timeout_s=timeout_s)

    @property
    def max_samples_per_request(self) -> int:  # type: ignore[override]
        """`MAX_N` where the model takes `n`, else 1 (rules.py); the runner cuts the rest."""
        return samples_per_request(self.model)

    @functools.cached_property
    def price(self) -> Price:
        """Looked up when first needed: a fully cached run never loads the price data."""
        m = self.model
        standard = Price(m.input_usd_per_mtok, m.output_usd_per_mtok,
                         m.cached_input_usd_per_mtok, m.batch_discount, m.long_context_from,
                         m.long_input_usd_per_mtok, m.long_output_usd_per_mtok)
        return dataclasses.replace(standard, tiers={
            **tiers.tier_prices(tier_facts(m), m.batch_discount),
            **tiers.background_prices(standard)})

    def repr_fields(self) -> str:
        return f"model={str(self.model)!r}, base_url={self.base_url!r}"

    # -- identity and validation ------------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        # "responses" only where it is not the model's usual endpoint's: no existing key changes
        api = "responses" if self.model.endpoint == "responses" else \
            "completions" if self.model.kind == "instruct" else "chat"
        ident = {"provider": self.provider, "model": str(self.model), "api": api}
        if self.base_url != DEFAULT_BASE_URL:
            ident["base_url"] = self.base_url
        return ident

    def validate_prompt(self, prompt: LmPrompt) -> None:
        # check_prompt reads neither the text nor the metadata (tests/openai/
        # test_openai_rules.py gives it a text and metadata that raise when read, for every
        # model kind): a usual prompt is checked once per (max_tokens, temperature) and model,
        # 1.75 -> ~1 µs a prompt on a reasoning model. A refusal is never kept: it raises each time.
        settings = usual_settings(prompt)
        if settings is not None and self._checked.get(settings) is self.model:
            return
        check_prompt(prompt, self.model)
        if settings is not None and len(self._checked) < _CHECKED_MAX:
            self._checked[settings] = self.model

    def size_limits(self, batch: bool) -> tuple[SizeLimit, ...]:
        """OpenAI's limits on one request or batch line; a server behind another base URL
        has its own, which are not ours to guess (only a batch file's size is kept)."""
        return models.size_limits(batch, official=self.base_url == DEFAULT_BASE_URL)

    def check_window(self, window: CompletionWindow) -> None:
        """FLEX and PRIORITY where the model is sold at that tier (tiers.py); not on
        /v1/completions, which has no `service_tier` (the SDK's CompletionCreateParams).
        BACKGROUND_2H / 8H for a model sent to the Responses API (tiers.check_background)."""
        if window in BACKGROUND_WINDOWS:
            tiers.check_background(str(self.model), self.model.endpoint, self.price, window)
            return
        if window not in SERVICE_TIERS:
            return  # before `self.price`: a fully cached run never loads the price data
        if self.model.kind == "instruct":
            raise ValueError(f"{self.model}: /v1/completions has no service tiers; use "
                             "CompletionWindow.ASAP or BATCH_ANY")
        tiers.check_window(str(self.model), self.price, window)

    # -- tokens and money --------------------------------------------------------------------

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        if self.model.kind == "instruct":
            return tokens.count_text_tokens(prompt.get_text_as_string_default_form(),
                                            self.model.encoding)
        return tokens.count_chat_tokens(prompt.get_text_as_chat().as_dicts(), self.model.encoding)

    def context_need(self, prompt: LmPrompt) -> ContextNeed | None:
        """The prompt's tokens by tiktoken (the model's encoding, chat messages framed as
        OpenAI's cookbook counts them), against the window a source gives; None for a
        model no source describes. What counts against the window, by OpenAI's own words
        (openai 3.63.0 SDK docstrings, read 2026-12-07): on /v1/completions "the token count
        of your prompt plus `max_tokens` cannot exceed the model's context length"
        (types/completion_create_params.py); on Chat Completions and Responses,
        `max_tokens` / `max_completion_tokens` / `max_output_tokens` only bound the output
        (types/chat/completion_create_params.py, types/responses/response_create_params.py),
        so there the prompt alone must fit and no output is counted."""
        if not self._window_known:
            return None
        output = 0
        if self.model.kind == "instruct":
            output = (prompt.max_tokens if prompt.max_tokens is not None
                      else INSTRUCT_DEFAULT_MAX_TOKENS)
        if _most_tokens(prompt, self.model.kind) + output <= self.model.context_window:
            return None  # surely fits: no token is shorter than a byte (spares the count)
        return ContextNeed(self.estimate_tokens_in_prompt(prompt), output,
                           self.model.context_window, f"tiktoken {self.model.encoding}")

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        if self.model.kind == "instruct":
            return INSTRUCT_DEFAULT_MAX_TOKENS
        room = self.token_limit - self.estimate_tokens_in_prompt(prompt)
        return max(1, min(self.model.max_output_tokens, room))

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """Upper bound. A model that takes `n` is billed a prompt's input once for all its
        samples; one that does not (rules.py), once per sample: each is a request."""
        def out(p: LmPrompt) -> int:
            return p.max_tokens if p.max_tokens is not None else self.default_max_tokens(p)

        # bare strings read as predict_many reads them; a repeated prompt priced once
        prompts, samples = unique_prompts(prompts, samples, self.cache_default)
        if self.max_samples_per_request > 1:
            return bound(self.price, prompts, completion_window, samples=samples,
                         input_tokens=self.estimate_tokens_in_prompt, max_output_tokens=out,
                         batch_priced=self.supports_batch)
        counts = list(samples) if samples is not None else [p.samples_needed for p in prompts]
        each = [p for p, n in zip(prompts, counts) for _ in range(n)]
        est = bound(self.price, each, completion_window, samples=[1] * len(each),
                    input_tokens=self.estimate_tokens_in_prompt, max_output_tokens=out,
                    batch_priced=self.supports_batch)
        return dataclasses.replace(est, prompts=len(prompts))

    def batch_adapter(self, cache: SqlCache | None = None) -> OpenAiBatchAdapter:
        """The OpenAI Batch API for `lmwrapper.runners.batch` (same request bodies as live;
        its batches carry their uid as metadata, so it needs no `cache` to find one)."""
        return OpenAiBatchAdapter(self)

    def background_adapter(self) -> OpenAiBackgroundAdapter:
        """Responses background mode for `lmwrapper.runners.background` (BACKGROUND_2H / 8H)."""
        return OpenAiBackgroundAdapter(self)

    # -- sending -----------------------------------------------------------------------------

    def _make_client(self, key: str) -> Any:
        try:
            import openai
        except ImportError as e:
            raise install_hint("openai", "openai") from e
        return openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0,
                             http_client=sdk_http_client(openai.DefaultHttpxClient),
                             timeout=self.timeout_s)

    def request_for(self, prompt: LmPrompt, n: int, *, batch: bool = False,
                    service_tier: str | None = None) -> OpenAiRequest:
        """The request for `n` samples of `prompt`, live or as a batch line (`batch`): the
        same body either way here; Azure names its deployment instead of the model.
        `service_tier`: a FLEX or PRIORITY window's (live only)."""
        return build_request(prompt, self.model, n=n, service_tier=service_tier)

    def batch_endpoint(self) -> str:
        """What a batch create names as its `endpoint`: the URL its lines go to."""
        return endpoint_for(self.model)

    def send_once(self, job: Job) -> Sequence[LmPrediction]:
        n = len(job.sample_indices)
        req = self.request_for(job.prompt, n, service_tier=self._tier(job))
        with sdk_errors(self, "openai"):
            raw = _post(self.client(), req)
        self.limiter.observe(raw.headers)
        return self._parse(raw.text, job.prompt, n)

    async def send_async(self, job: Job, post: AsyncPost) -> Sequence[LmPrediction]:
        """`send_once` on the live runner's event loop (`lmwrapper.runners.lean`): the same
        body, the same parsing, a fraction of the CPU."""
        n = len(job.sample_indices)
        req = self.request_for(job.prompt, n, service_tier=self._tier(job))
        return self._parse(await post(req.path, req.body), job.prompt, n)

    def _tier(self, job: Job) -> str | None:
        """The job's `service_tier` (its window's), and once per model a warning where flex
        meets a shorter deadline than OpenAI advises: a flex request cut off by our timeout
        is sent again, and the first may still be answered, and billed."""
        tier = SERVICE_TIERS.get(job.window)
        if tier == "flex" and self.timeout_s < tiers.FLEX_TIMEOUT_S and not self._flex_warned:
            self._flex_warned = True
            warnings.warn(f"flex requests to {self.model} may take longer than timeout_s="
                          f"{self.timeout_s:g}; OpenAI advises {tiers.FLEX_TIMEOUT_S:g} s for "
                          f"flex (in Python: get_open_ai_lm(..., timeout_s={tiers.FLEX_TIMEOUT_S:g}))",
                          stacklevel=2)
        return tier

    def missing_model_message(self, fields: Mapping[str, Any]) -> str | None:
        return errors.missing_model_message(fields)

    def _parse(self, text: str, prompt: LmPrompt, n: int) -> list[LmPrediction]:
        """The predictions in a 200's body; BadResponseError (retried once: it was billed)
        when the body is not a completion or has fewer choices than asked."""
        try:
            preds = parse_response(json.loads(text), prompt, self.model, self.price)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise BadResponseError(f"malformed 200 response from {self.base_url} "
                                   f"({type(e).__name__}: {self.scrub(str(e))[:200]})") from None
        if len(preds) != n:
            raise BadResponseError(f"asked {self.base_url} for {n} choices, got {len(preds)}")
        return preds

    # -- lmwrapper 0.18 names --
    def tokenize(self, input_str: str) -> list[str]:
        """`input_str` as token strings of the model's tiktoken encoding."""
        return tokens.tokenize(input_str, self.model.encoding)

    def tokenize_ids(self, input_str: str) -> list[int]:
        """`input_str` as token ids of the model's tiktoken encoding (special-token text
        counts as plain text, as in `tokenize`; 0.18 raised on it)."""
        return tokens.get_encoding(self.model.encoding).encode(input_str, disallowed_special=())

    @property
    def supports_token_operations(self) -> bool:
        return True

    @property
    def is_chat_model(self) -> bool:
        return self.model.is_chat_model

    @property
    def reasoning_style(self) -> Any:  # LmReasoningStyle
        return self.model.reasoning_style

    @property
    def default_tokens_generated(self) -> int | None:
        """16 on /v1/completions (its default); None on chat models (the server's default)."""
        return INSTRUCT_DEFAULT_MAX_TOKENS if self.model.kind == "instruct" else None


def _most_tokens(prompt: LmPrompt, kind: str) -> int:
    """An upper bound of `estimate_tokens_in_prompt`: the UTF-8 bytes (a token is at least
    one), plus the chat format's tokens (`tokens.count_chat_tokens`) for each message."""
    if kind == "instruct":
        return len(prompt.get_text_as_string_default_form().encode())
    if not prompt.is_text_a_chat():  # one message, its role at most 16 bytes
        return (len(prompt.get_text_as_string_default_form().encode()) + 16
                + tokens.TOKENS_PER_MESSAGE + tokens.TOKENS_REPLY_PRIMING)
    turns = prompt.get_text_as_chat().as_dicts()
    framing = tokens.TOKENS_PER_MESSAGE + tokens.TOKENS_PER_NAME
    return tokens.TOKENS_REPLY_PRIMING + sum(
        framing + sum(len(str(v).encode()) for v in t.values() if v) for t in turns)


def _post(client: Any, req: OpenAiRequest) -> Any:
    """Send `req.body` as it is, through the SDK's public raw-response API (the body is
    ours, not the SDK's typed parameters, so a batch line and a live call are the same)."""
    body = dict(req.body)
    if req.url.endswith("/responses"):
        return client.responses.with_raw_response.create(
            model=body.pop("model"), input=body.pop("input"), extra_body=body)
    if req.url.endswith("/chat/completions"):
        return client.chat.completions.with_raw_response.create(
            model=body.pop("model"), messages=body.pop("messages"), extra_body=body)
    return client.completions.with_raw_response.create(
        model=body.pop("model"), prompt=body.pop("prompt"), extra_body=body)
