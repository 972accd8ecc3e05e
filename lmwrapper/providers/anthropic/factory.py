"""`get_claude_lm`: a Claude model, ready for `predict` / `predict_many`.

    >>> lm = get_claude_lm(ClaudeModelNames.claude_haiku_4_5)
    >>> lm.predict("Define 'anthropology' in one short sentence").completion_text
    'Anthropology is the scientific study of human cultures, societies, behaviors, and ...'

`anthropic` loads only when a request is sent or tokens are counted with the API.
"""

from __future__ import annotations

import os
from typing import Any

from lmwrapper.core import models as model_facts_mod
from lmwrapper.providers.anthropic.models import DEFAULT_MODEL, ClaudeModelInfo, ClaudeModelNames
from lmwrapper.providers.anthropic.predictor import ClaudePredictor
from lmwrapper.providers.base import live_settings
from lmwrapper.runners.live import RetryPolicy


def get_claude_lm(
    model_name: str = DEFAULT_MODEL,
    api_key_secret: Any = None,
    cache_outputs_default: bool | None = None,
    retry_on_transient_errors: bool = True,
    max_retries: int = 8,
    *,
    retry_on_rate_limit: bool = True,
    base_url: str | None = None,
    max_concurrency: int | None = None,
    cache_default: bool = True,
    cache_dir: str | None = None,
    max_retry_time_s: float = 600.0,
    timeout_s: float = 600.0,
    retry: RetryPolicy | None = None,
    **model_facts: Any,
) -> ClaudePredictor:
    """A Claude model: any model id (`ClaudeModelNames` lists the known ones), by default
    Anthropic's current Sonnet (`DEFAULT_MODEL`). A model with an announced shutdown date
    warns once (`ModelRetiringWarning`).

    `api_key_secret`: the key (or an object with `get_secret()`); else `$ANTHROPIC_API_KEY`,
    else `~/anthropic_key.txt` — looked up only when a request must be sent.
    `base_url`: else `$ANTHROPIC_BASE_URL`, else api.anthropic.com; part of the cache identity.
    `max_concurrency`: requests in flight; else `$LMWRAPPER_MAX_CONCURRENCY`, else 8.
    `retry_on_rate_limit=False` answers a 429 at once with an error prediction; other
    transient errors (529 overloaded, 5xx, dropped connections) are retried up to
    `max_retries` times within `max_retry_time_s` seconds per prompt (`retry` replaces all three).
    `model_facts` override the registry (see `ClaudeModelInfo`), e.g. `input_usd_per_mtok=0.8`,
    or describe a model it does not know (`context_window=`, `max_output_tokens=`).
    The positional arguments are lmwrapper 0.18's, in its order (0.18's default model,
    claude-sonnet-4-20250514, was retired on 2026-06-15):
    `cache_outputs_default` is `cache_default`; `retry_on_transient_errors=False` retries
    nothing (not even a 429).
    """
    if cache_outputs_default is not None:
        cache_default = bool(cache_outputs_default)
    if not retry_on_transient_errors:
        max_retries, retry_on_rate_limit = 0, False
    model = ClaudeModelInfo.infer(model_name, **model_facts)
    if not (base_url or os.environ.get("ANTHROPIC_BASE_URL")):  # a gateway keeps its own dates
        model_facts_mod.warn_if_retiring("anthropic", str(model), model.retires)
    max_concurrency, retry = live_settings(max_concurrency, retry, max_retries=max_retries,
                                           max_retry_time_s=max_retry_time_s,
                                           retry_on_rate_limit=retry_on_rate_limit)
    return ClaudePredictor(model, api_key_secret=api_key_secret, base_url=base_url,
                           max_concurrency=max_concurrency, retry=retry, timeout_s=timeout_s,
                           cache_default=cache_default, cache_dir=cache_dir)


__all__ = ["ClaudeModelNames", "get_claude_lm"]
