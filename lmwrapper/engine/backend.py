"""`LmBackend`: the provider side of a model, which the front door (`LmPredictor`) holds.

A backend says who the model is and how it answers; the engine and the runners ask it
nothing else (`lmwrapper.core.contract.Backend` is what they may ask). It implements
`model_identity` plus one way of answering jobs:

- `live_runner()` — an API backend: a `Runner` with concurrency, pacing and retries
  (`providers.base.HttpApiBackend` builds one from `send_once`);
- `_run(jobs, window, emit, should_stop)` — its own loop (a local model's padded batches);
- or just `_predict_samples(prompt, n)` — one prompt at a time, run by the default `_run`.

Everything else has a default here: validation, size limits, service tiers, error
predictions, the cost bound, token counting, the context window, the cache row codec, and
what a model says about itself (0.18's names: `tokenize`, `is_chat_model`, ...).
Capabilities are class attributes. Cache, dedupe, routing, ordering, progress and cost
limits are the front door's and the engine's, never a backend's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, ClassVar

from lmwrapper.core.context import ContextNeed
from lmwrapper.core.contract import Emit, Job, Runner, SequentialRunner
from lmwrapper.core.errors import ConfigurationError, ProviderError
from lmwrapper.core.limits import SizeLimit
from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine import fork
from lmwrapper.engine.plan import unique_prompts
from lmwrapper.runners.background import BackgroundAdapter
from lmwrapper.runners.batch.adapter import BatchAdapter
from lmwrapper.store.db import SqlCache
from lmwrapper.store.keys import identity_json
from lmwrapper.store.rows import CacheRow, RowCodec


class LmBackend(fork.Tracked):
    """Base class of every backend. Capabilities are class attributes."""

    provider: ClassVar[str] = "unknown"
    supports_batch: ClassVar[bool] = False
    # Responses created in the background and polled (BACKGROUND_2H / _8H, where
    # `check_window` allows them) through `background_adapter()`; a run in another window
    # warns of background responses of its prompts still pending (OpenAI's).
    supports_background: ClassVar[bool] = False
    runs_locally: ClassVar[bool] = False  # a local model: its tokens cost nothing
    key_env_var: ClassVar[str | None] = None
    # Most samples of one prompt one request can ask for; None: no limit (an API with `n`, a
    # local model's batch). Its runner cuts a prompt's missing samples into requests of at
    # most this many (`Job.parts`), each sent, retried and stored on its own (Claude: 1).
    max_samples_per_request: ClassVar[int | None] = None
    # Requests (or background responses) in flight at once: the live and the background
    # runners' workers. An API backend takes it as an argument (`max_concurrency=`), set
    # per object; a local model's own loop does not read it.
    max_concurrency: int = 8
    # What the front door holding it caches by default: a repeated prompt with caching off
    # is its own request (`estimate_cost` dedupes as `predict_many` does). The front door
    # sets it.
    cache_default: bool = True
    _identity_json: str | None = None  # made on first use (`identity_json`)
    _record_defaults: dict[str, Any] | None = None  # made on first use (`row_codec`)

    def _after_fork(self) -> None:
        """In a forked child: drop what is shared with the parent (nothing, by default)."""

    # -- who the model is ---------------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        """Everything about the model that changes its outputs (provider, name, base URL, …)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement model_identity(): a dict of what changes "
            "its outputs (provider, model name, version, ...), which keys its cache entries")

    def model_name(self) -> str:
        return str(self.model_identity().get("model", type(self).__name__))

    def identity_json(self) -> str:
        """The canonical JSON of `model_identity()`: part of every cache key."""
        if self._identity_json is None:
            self._identity_json = identity_json(self.model_identity())
        return self._identity_json

    def validate_prompt(self, prompt: LmPrompt) -> None:
        """Raise `ValueError` (field + fix) for a prompt this backend cannot honour."""

    def size_limits(self, batch: bool) -> tuple[SizeLimit, ...]:
        """The provider's limits on one request (`batch`: on one batch line), each with its
        source; the engine refuses a prompt past one before sending it. None by default."""
        return ()

    def check_window(self, window: CompletionWindow) -> None:
        """Raise `ValueError` for a window this model is not sold in. ASAP and BATCH_ANY
        suit every model (BATCH_ANY runs live where there is no batch API); a service tier
        (FLEX, PRIORITY) or a background window (BACKGROUND_2H, _8H) only a backend that
        declares it (OpenAI's)."""
        if window in (CompletionWindow.ASAP, CompletionWindow.BATCH_ANY):
            return
        kind = "background window" if "background" in window.value else "service tier"
        raise ValueError(f"{self.model_name()} has no {window.value} {kind} (only some "
                         "OpenAI models do); use CompletionWindow.ASAP, or BATCH_ANY for the "
                         "batch price where the provider has a batch API")

    # -- answering ------------------------------------------------------------------------

    def live_runner(self) -> Runner | None:
        """The runner of an API backend (concurrent requests, pacing, retries); None: this
        backend answers through `_run` (its own loop)."""
        return None

    def batch_adapter(self, cache: SqlCache | None = None) -> BatchAdapter:
        """Its provider's batch API, for `lmwrapper.runners.batch` and `lmwrapper batch` (a
        backend with `supports_batch`); `cache`: where the batch engine records its jobs."""
        raise NotImplementedError(f"{type(self).__name__} has no batch API "
                                  "(supports_batch is False)")

    def background_adapter(self) -> BackgroundAdapter:
        """Its provider's background mode, for `lmwrapper.runners.background` (a backend
        with `supports_background`; `check_window` refuses the windows for any other)."""
        raise NotImplementedError(f"{type(self).__name__} has no background mode "
                                  "(supports_background is False)")

    def _predict_samples(self, prompt: LmPrompt, n: int) -> Sequence[LmPrediction]:
        """`n` independent samples for `prompt` (used by the default sequential `_run`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _predict_samples("
                                  "prompt, n) (n predictions for the prompt) or _run")

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: Callable[[], bool]) -> None:
        """Answer every job through `emit(job, predictions)`, one prediction per sample index;
        start nothing new once `should_stop()` is true."""
        SequentialRunner(self._predict_or_error, self.max_samples_per_request).run(
            jobs, emit, should_stop)

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

    # -- tokens and money -------------------------------------------------------------------

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """Upper bound of what sending `prompts` costs: free for local models (`runs_locally`),
        unknown (`priced=False`) for a backend that does not say."""
        local = self.runs_locally
        n = len(unique_prompts(prompts, samples, self.cache_default)[0])
        return CostEstimate(n, 0, 0, 0.0, 0.0, priced=local, free=local)

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        """Tokens the prompt takes in the model's context (chat overhead included)."""
        raise NotImplementedError(f"{type(self).__name__} cannot count tokens")

    @property
    def token_limit(self) -> int:
        """The model's context size in tokens (prompt + completion)."""
        raise NotImplementedError(f"{type(self).__name__} does not know its context size")

    def context_need(self, prompt: LmPrompt) -> ContextNeed | None:
        """What `prompt` takes of the model's context window, as this backend counts it;
        None where the window is unknown (then nothing is refused). The engine refuses a
        prompt that cannot fit before sending it (`lmwrapper.engine.context`)."""
        return None

    def default_max_tokens(self, prompt: LmPrompt) -> int:
        """What `max_tokens=None` means for this model (used for limits and cost bounds)."""
        return max(1, self.token_limit - self.estimate_tokens_in_prompt(prompt))

    def could_completion_go_over_token_limit(self, prompt: LmPrompt) -> bool:
        """Whether prompt + max_tokens could exceed the context; False for a backend that
        cannot count tokens or does not know its context size."""
        try:
            max_tokens = prompt.max_tokens or self.default_max_tokens(prompt)
            return self.estimate_tokens_in_prompt(prompt) + max_tokens > self.token_limit
        except NotImplementedError:
            return False

    # -- how its answers are stored -------------------------------------------------------

    def internals_to_blob(self, internals: Any) -> bytes | None:
        return None

    def blob_to_internals(self, blob: bytes) -> Any:
        return None

    def row_codec(self) -> RowCodec:
        """How this backend's predictions are stored as cache rows (`lmwrapper.store.rows`)."""
        if self._record_defaults is None:  # what every row shares: in columns, not in records
            self._record_defaults = {"provider": self.provider, "model": self.model_name()}
        return RowCodec(self._record_defaults, self.internals_to_blob, self.blob_to_internals)

    def cache_row(self, key: str, prediction: LmPrediction, canonical: str | None = None) -> CacheRow:
        """`prediction` (one sample) as the cache row to store (`RowCodec.row`)."""
        return self.row_codec().row(key, prediction, canonical)

    # -- what a model says about itself (0.18's names; providers answer them) ----------------

    def tokenize(self, input_str: str) -> list[str]:
        """`input_str` as the model's token strings."""
        raise NotImplementedError(f"{type(self).__name__} cannot tokenize: its provider does not "
                                  "publish its tokenizer; use estimate_tokens_in_prompt to count")

    @property
    def supports_prefilled_chat(self) -> bool:
        """Whether a chat ending in an assistant turn is continued (prefill)."""
        return False

    @property
    def supports_token_operations(self) -> bool:
        """Whether `tokenize` works for this model."""
        return False

    @property
    def is_chat_model(self) -> bool:
        raise NotImplementedError(f"{type(self).__name__} does not say whether it is a chat model")

    @property
    def reasoning_style(self) -> LmReasoningStyle:
        return LmReasoningStyle.UNKNOWN


# -- lmwrapper 0.18 names --
class LmReasoningStyle(Enum):
    """Whether a model thinks (hidden reasoning tokens) before it answers."""

    NEVER_THINK = "NEVER_THINK"
    """The model never produces reasoning tokens."""
    CONFIGURABLE_THINKING = "CONFIGURABLE_THINKING"
    """The model reasons when the request asks it to (e.g. gpt-5.1's reasoning effort)."""
    ALWAYS_THINK = "ALWAYS_THINK"
    """The model always reasons before it answers (o1, o3, gpt-5 ...)."""
    UNKNOWN = "UNKNOWN"
