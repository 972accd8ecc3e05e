"""`LmPredictor`: the front door every backend shares (`predict`, `predict_many`, cost, tokens).

A backend subclasses it and implements `model_identity` plus either `_predict_samples`
(one prompt at a time, run sequentially by the default `_run`) or `_run` itself (its own
scheduling: concurrent requests, padded batches, a batch API). Everything else — cache,
dedupe, ordering, progress, cost limits — is the engine's (`lmwrapper.engine`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from lmwrapper.backend import Emit, Job
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.engine import Run, RunSummary
from lmwrapper.errors import ConfigurationError, ProviderError
from lmwrapper.sqlcache import CacheRow, SqlCache, get_cache, identity_json, prompt_json
from lmwrapper.structs import LmPrediction, LmPrompt


@dataclass(frozen=True)
class CostEstimate:
    """An upper bound on a run's cost, before anything is sent."""

    prompts: int
    input_tokens: int
    max_output_tokens: int
    input_usd: float
    output_usd: float
    priced: bool = True

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.output_usd


class LmPredictor:
    """Base class of every model. Capabilities are class attributes."""

    provider: ClassVar[str] = "unknown"
    supports_batch: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None

    def __init__(self, cache_default: bool = True, cache_dir: str | None = None) -> None:
        self.cache_default = cache_default
        self._cache_dir = cache_dir
        self._cache: SqlCache | None = None
        self._identity_json: str | None = None
        self._record_defaults: dict[str, Any] | None = None
        self.last_run: RunSummary | None = None

    # -- the public API -------------------------------------------------------------------

    def predict(self, prompt: LmPrompt | str) -> LmPrediction | list[LmPrediction]:
        """One prompt → one `LmPrediction` (a list of them when `num_completions` is set)."""
        return next(iter(self.predict_many([prompt], progress=False)))

    def predict_many(
        self,
        prompts: Iterable[LmPrompt | str],
        completion_window: CompletionWindow = CompletionWindow.ASAP,
        *,
        progress: bool | None = None,
        max_cost_usd: float | None = None,
    ) -> Iterator[LmPrediction | list[LmPrediction]]:
        """Predictions for `prompts`, yielded in input order as each becomes ready.

        Every prompt is validated, keyed and looked up in the cache before anything is sent;
        a bad prompt raises `ValueError` here, and a `max_cost_usd` below the run's upper
        bound raises `CostLimitExceededError`. Failures of single prompts come back as
        predictions with `has_errors`.
        """
        return iter(Run(self, prompts, completion_window, progress, max_cost_usd))

    def model_name(self) -> str:
        return str(self.model_identity().get("model", type(self).__name__))

    # -- what a backend provides ----------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        """Everything about the model that changes its outputs (provider, name, base URL, …)."""
        raise NotImplementedError

    def validate_prompt(self, prompt: LmPrompt) -> None:
        """Raise `ValueError` (field + fix) for a prompt this backend cannot honour."""

    def _predict_samples(self, prompt: LmPrompt, n: int) -> Sequence[LmPrediction]:
        """`n` independent samples for `prompt` (used by the default sequential `_run`)."""
        raise NotImplementedError

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: Callable[[], bool]) -> None:
        """Answer every job through `emit(job, predictions)`, one prediction per sample index."""
        for job in jobs:
            if should_stop():
                return
            emit(job, self._predict_or_error(job.prompt, len(job.sample_indices)))

    def _predict_or_error(self, prompt: LmPrompt, n: int) -> Sequence[LmPrediction]:
        try:
            return self._predict_samples(prompt, n)
        except ConfigurationError:
            raise
        except ProviderError as e:
            return [self.error_prediction(prompt, e)] * n

    def error_prediction(self, prompt: LmPrompt, error: ProviderError) -> LmPrediction:
        return LmPrediction(
            completion_text=None, prompt=prompt, error_message=str(error),
            error_is_transient=error.transient, provider=self.provider, model=self.model_name(),
        )

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """Upper bound of what sending `prompts` costs; free for local models."""
        return CostEstimate(len(prompts), 0, 0, 0.0, 0.0, priced=False)

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        """Tokens the prompt takes in the model's context (chat overhead included)."""
        raise NotImplementedError(f"{type(self).__name__} cannot count tokens")

    @property
    def token_limit(self) -> int:
        """The model's context size in tokens (prompt + completion)."""
        raise NotImplementedError(f"{type(self).__name__} does not know its context size")

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        """What `max_tokens=None` means for this model (used for limits and cost bounds)."""
        return max(1, self.token_limit - self.estimate_tokens_in_prompt(prompt))

    def could_completion_go_over_token_limit(self, prompt: LmPrompt) -> bool:
        """Whether prompt + max_tokens could exceed the context; never raises."""
        try:
            max_tokens = prompt.max_tokens or self.default_max_tokens(prompt)
            return self.estimate_tokens_in_prompt(prompt) + max_tokens > self.token_limit
        except Exception:
            return False

    def internals_to_blob(self, internals: Any) -> bytes | None:
        return None

    def record_defaults(self) -> dict[str, Any]:
        """What every cache row of this predictor shares: stored in columns, not in each record."""
        if self._record_defaults is None:
            self._record_defaults = {"provider": self.provider, "model": self.model_name()}
        return self._record_defaults

    def cache_row(self, key: str, prediction: LmPrediction) -> CacheRow:
        """`prediction` (one sample) as the cache row the engine or a batch collector stores."""
        p = prediction
        defaults = self.record_defaults()
        blob = self.internals_to_blob(p.internals) if p.internals is not None else None
        value = _ENCODER.encode(p.cache_record(defaults))
        return CacheRow(key, p.sample_index, defaults["provider"], defaults["model"],
                        p.has_errors, value, blob, prompt_json(key, p.prompt))

    def blob_to_internals(self, blob: bytes) -> Any:
        return None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def cache(self) -> SqlCache:
        if self._cache is None:
            self._cache = get_cache(self._cache_dir)
        return self._cache

    def identity_json(self) -> str:
        if self._identity_json is None:
            self._identity_json = identity_json(self.model_identity())
        return self._identity_json


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
