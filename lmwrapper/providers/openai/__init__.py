"""OpenAI models (and any OpenAI-compatible server) as `LmPredictor`s.

    >>> lm = get_open_ai_lm(OpenAiModelNames.gpt_5_4_mini)
    >>> lm.predict("What is 2+2?").completion_text
    '2 + 2 equals 4.'

`openai` and `tiktoken` load only when a request is sent or tokens are counted.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from lmwrapper.core import extend
from lmwrapper.core import models as facts_source
from lmwrapper.providers.base import live_settings
from lmwrapper.providers.openai.azure import AzureConfig, AzureOpenAiBackend, AzureOpenAiPredictor
from lmwrapper.providers.openai.backend import DEFAULT_BASE_URL, OpenAiBackend
from lmwrapper.providers.openai.models import DEFAULT_MODEL, OpenAiModelInfo, OpenAiModelNames
from lmwrapper.providers.openai.predictor import OpenAiPredictor
from lmwrapper.providers.openai.request import OpenAiRequest, build_request, parse_response
from lmwrapper.runners.live import RetryPolicy


def get_open_ai_lm(
    model_name: str = DEFAULT_MODEL,
    api_key_secret: Any = None,
    organization: str | None = None,
    cache_outputs_default: bool | None = None,
    retry_on_rate_limit: bool = True,
    *,
    base_url: str | None = None,
    max_concurrency: int | None = None,
    cache_default: bool = True,
    cache_dir: str | None = None,
    max_retries: int = 8,
    max_retry_time_s: float = 600.0,
    timeout_s: float = 300.0,
    retry: RetryPolicy | None = None,
    api: Literal["chat", "responses"] | None = None,
    azure: AzureConfig | None = None,
    **model_facts: Any,
) -> OpenAiPredictor:
    """An OpenAI model, ready for `predict` / `predict_many`.

    `model_name`: any model name (`OpenAiModelNames` lists the known ones), by default
    OpenAI's current low-cost model (`DEFAULT_MODEL`). A model OpenAI announced a shutdown date
    for warns once (`ModelRetiringWarning`).
    The positional arguments are lmwrapper 0.18's, in its order;
    `organization` is not sent (a `Lmwrapper018Warning` says so) and `cache_outputs_default`
    is 0.18's name for `cache_default`. The rest are keyword-only.

    `api_key_secret`: the key (or an object with `get_secret()`); else `$OPENAI_API_KEY`,
    else `~/oai_key.txt` — looked up only when a request must be sent.
    `base_url`: any OpenAI-compatible server (vLLM, llama.cpp, ...); else
    `$OPENAI_BASE_URL`, else api.openai.com. It is part of the cache identity.
    `max_concurrency`: requests in flight; else `$LMWRAPPER_MAX_CONCURRENCY`, else 8.
    `retry_on_rate_limit=False` answers a 429 at once with an error prediction instead of
    waiting; other transient errors are still retried up to `max_retries` times within
    `max_retry_time_s` seconds per prompt.
    `retry`: a full `RetryPolicy` (backoff times too), replacing the three settings above.
    `api`: "responses" sends every prompt to /v1/responses (live and in batch lines), "chat"
    to Chat Completions; by default the model's own (`OpenAiModelInfo.endpoint`: "responses"
    for the models only the Responses API serves, such as gpt-5-pro; "chat" for every other
    name, so an OpenAI-compatible server keeps getting Chat Completions). A non-default `api`
    is part of the cache identity.
    `azure`: an `AzureConfig` (endpoint, deployment, api_version) to send to an Azure OpenAI
    deployment instead (its key from `$AZURE_OPENAI_API_KEY`; see `providers.openai.azure`).
    `model_facts` override what the registry knows, e.g. `kind="instruct"`,
    `context_window=32768`, `input_usd_per_mtok=0.2` (see `OpenAiModelInfo`). A name close to
    a current one and unknown to every source raises `UnknownModelError` ("did you mean ...?")
    unless facts are given or `base_url` is not api.openai.com.
    """
    cache_default = extend.adapter("openai_factory_args")(  # 0.18's arguments
        cache_default, cache_outputs_default, organization)
    if azure is not None and base_url is not None:
        raise ValueError("give either base_url or azure, not both (azure's endpoint is the "
                         "resource URL, https://<resource>.openai.azure.com)")
    if azure is None:
        base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    # Azure serves OpenAI's models (a typo is still refused); a compatible server, any name
    compatible = azure is None and base_url != DEFAULT_BASE_URL
    model = OpenAiModelInfo.infer(model_name, compatible_server=compatible, **model_facts)
    if base_url == DEFAULT_BASE_URL:  # another server keeps its own dates
        facts_source.warn_if_retiring("openai", str(model), model.retires)
    model = _with_api(model, api)
    max_concurrency, retry = live_settings(max_concurrency, retry, max_retries=max_retries,
                                           max_retry_time_s=max_retry_time_s,
                                           retry_on_rate_limit=retry_on_rate_limit)
    settings: dict[str, Any] = {
        "api_key_secret": api_key_secret, "max_concurrency": max_concurrency, "retry": retry,
        "timeout_s": timeout_s, "cache_default": cache_default, "cache_dir": cache_dir}
    if azure is not None:
        return AzureOpenAiPredictor(model, azure=azure, **settings)
    return OpenAiPredictor(model, base_url=base_url, **settings)


def _with_api(model: OpenAiModelInfo, api: str | None) -> OpenAiModelInfo:
    """`model` with the endpoint it is sent to (see `get_open_ai_lm`'s `api`)."""
    if api is None or model.endpoint == api:
        return model
    if api not in ("chat", "responses"):
        raise ValueError(f"api must be 'chat' or 'responses'; got {api!r}")
    if api == "responses" and model.kind == "instruct":
        raise ValueError(f"{model} is an instruct model, served by /v1/completions only; "
                         "leave api=None, or use a chat or reasoning model with api='responses'")
    return model.with_facts(endpoint=api)


__all__ = [
    "DEFAULT_BASE_URL",
    "AzureConfig",
    "AzureOpenAiBackend",
    "AzureOpenAiPredictor",
    "OpenAiBackend",
    "OpenAiModelInfo",
    "OpenAiModelNames",
    "OpenAiPredictor",
    "OpenAiRequest",
    "RetryPolicy",
    "build_request",
    "get_open_ai_lm",
    "parse_response",
]
