"""`LmPredictor`: the front door every backend shares (`predict`, `predict_many`, cost, tokens).

A backend subclasses it and implements `model_identity` plus one way of answering jobs:
`live_runner()` (an API backend: a `backend.Runner` with concurrency and retries), `_run`
(its own loop: a local model's padded batches), or just `_predict_samples` (one prompt at a
time, run sequentially by the default `_run`). Everything else — cache, dedupe, routing,
ordering, progress, cost limits — is the engine's (`lmwrapper.engine.run`), which only this
front door imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Self

from lmwrapper.core import extend
from lmwrapper.core.context import ContextNeed
from lmwrapper.core.contract import Emit, Job, Runner, SequentialRunner
from lmwrapper.core.errors import ConfigurationError, ProviderError
from lmwrapper.core.limits import SizeLimit
from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import ChatTurnLike, LmChatDialog, LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine import fork
from lmwrapper.engine.plan import (
    BARE_STRING_MAX_TOKENS,
    Plan,
    RunSummary,
    as_prompt,
    unique_prompts,
)
from lmwrapper.engine.run import Results, Run
from lmwrapper.store.db import SqlCache, get_cache
from lmwrapper.store.keys import identity_json
from lmwrapper.store.rows import CacheRow, RowCodec


class LmPredictor:
    """Base class of every model. Capabilities are class attributes."""

    provider: ClassVar[str] = "unknown"
    supports_batch: ClassVar[bool] = False
    runs_locally: ClassVar[bool] = False  # a local model: its tokens cost nothing
    key_env_var: ClassVar[str | None] = None
    # Most samples of one prompt one request can ask for; None: no limit (an API with `n`, a
    # local model's batch). The engine splits a prompt's missing samples into jobs of at
    # most this many, so each is sent, retried and stored on its own (Claude: 1, no `n`).
    max_samples_per_request: ClassVar[int | None] = None

    def __init__(self, cache_default: bool = True, cache_dir: str | None = None) -> None:
        self.cache_default = cache_default
        self._cache_dir = cache_dir
        self._cache: SqlCache | None = None
        self._identity_json: str | None = None
        self._record_defaults: dict[str, Any] | None = None
        self.last_run: RunSummary | None = None

    # -- the public API -------------------------------------------------------------------

    def predict(self, prompt: LmPrompt | str | list[ChatTurnLike] | LmChatDialog
                ) -> LmPrediction | list[LmPrediction]:
        """One prompt → one `LmPrediction` (a list of them when `num_completions` is set).

        A bare string means `LmPrompt(text, max_tokens=100)`; a bare list (or `LmChatDialog`)
        is a chat, as in lmwrapper 0.18, with the same default: `LmPrompt(turns, max_tokens=100)`.
        Only `predict` reads a list this way: `predict_many` takes a list of prompts."""
        if isinstance(prompt, (list, LmChatDialog)):
            prompt = LmPrompt(LmChatDialog(prompt), max_tokens=BARE_STRING_MAX_TOKENS)
        with self.predict_many([as_prompt(prompt)], progress=False) as results:
            answer: LmPrediction | list[LmPrediction] = next(results)
            return answer

    def predict_many(
        self,
        prompts: Iterable[LmPrompt | str],
        completion_window: CompletionWindow = CompletionWindow.ASAP,
        *,
        progress: bool | None = None,
        max_cost_usd: float | None = None,
        retry_errors: bool = False,
    ) -> Results:
        """Predictions for `prompts`, yielded in input order as each becomes ready.

        Every prompt is validated, keyed and looked up in the cache before anything is sent;
        a bad prompt raises `ValueError` here, and a `max_cost_usd` below the run's upper
        bound (or with a model whose price is unknown) raises `CostLimitExceededError`. The
        uncached prompts are submitted here, before the first `next()`. Failures of single
        prompts come back as predictions with `has_errors`; `retry_errors=True` sends prompts
        whose cached answer is an error again. A bare string means
        `LmPrompt(text, max_tokens=100)`.
        """
        plan = Plan(self, prompts, completion_window, max_cost_usd=max_cost_usd,
                    retry_errors=retry_errors)
        run = Run(plan, progress)
        results = Results(run)  # first: dropping it (Ctrl-C during start) stops the run
        run.start()
        return results

    def model_name(self) -> str:
        return str(self.model_identity().get("model", type(self).__name__))

    # -- what a backend provides ----------------------------------------------------------

    def model_identity(self) -> dict[str, Any]:
        """Everything about the model that changes its outputs (provider, name, base URL, …).
        Left unwritten, a 0.18 subclass's `get_model_cache_key()` stands in (an adapter of
        lmwrapper.compat018)."""
        identity: dict[str, Any] = extend.adapter("predictor_identity")(self)
        return identity

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

    def live_runner(self) -> Runner | None:
        """The runner of an API backend (concurrent requests, pacing, retries); None: this
        backend answers through `_run` (its own loop)."""
        return None

    def _predict_samples(self, prompt: LmPrompt, n: int) -> Sequence[LmPrediction]:
        """`n` independent samples for `prompt` (used by the default sequential `_run`).
        Left unwritten, a 0.18 subclass's `_predict_maybe_cached` stands in (an adapter of
        lmwrapper.compat018)."""
        samples: Sequence[LmPrediction] = extend.adapter("predictor_samples")(self, prompt, n)
        return samples

    def _run(self, jobs: Sequence[Job], window: CompletionWindow, emit: Emit,
             should_stop: Callable[[], bool]) -> None:
        """Answer every job through `emit(job, predictions)`, one prediction per sample index;
        start nothing new once `should_stop()` is true."""
        SequentialRunner(self._predict_or_error).run(jobs, emit, should_stop)

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

    def internals_to_blob(self, internals: Any) -> bytes | None:
        return None

    def row_codec(self) -> RowCodec:
        """How this predictor's predictions are stored as cache rows (`lmwrapper.store.rows`)."""
        if self._record_defaults is None:  # what every row shares: in columns, not in records
            self._record_defaults = {"provider": self.provider, "model": self.model_name()}
        return RowCodec(self._record_defaults, self.internals_to_blob, self.blob_to_internals)

    def cache_row(self, key: str, prediction: LmPrediction, canonical: str | None = None) -> CacheRow:
        """`prediction` (one sample) as the cache row to store (`RowCodec.row`)."""
        return self.row_codec().row(key, prediction, canonical)

    def blob_to_internals(self, blob: bytes) -> Any:
        return None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def cache(self) -> SqlCache:
        # a file deleted or replaced since: the one now in its place (which imports the
        # journal of what was written to the old one)
        if self._cache is None or self._cache.replaced():
            self._cache = get_cache(self._cache_dir)
        return self._cache

    def identity_json(self) -> str:
        if self._identity_json is None:
            self._identity_json = identity_json(self.model_identity())
        return self._identity_json

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

    if TYPE_CHECKING:  # 0.18's methods, lent by lmwrapper.compat018.hooks.PredictorCompat018
        def remove_prompt_from_cache(self, prompt: LmPrompt | str) -> bool: ...
        def get_model_cache_key(self) -> str: ...
        @property
        def default_tokens_generated(self) -> int | None: ...
        def remove_special_chars_from_tokens(self, tokens: Sequence[str]) -> list[str]: ...
        def configure_global_ratelimit(self, max_count: int = 1, per_seconds: float = 1,
                                       greedy: bool = False) -> None: ...

    # -- pickling and fork() ---------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open cache handle (it reopens on first use)."""
        state = dict(self.__dict__)
        state["_cache"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """Every predictor is tracked, so a fork()ed child can drop what it shares with its
        parent (`lmwrapper.engine.fork`: multiprocessing forks on Linux)."""
        obj = super().__new__(cls)
        fork.track(obj)
        return obj

    def _after_fork(self) -> None:
        """In a forked child: reopen the cache on first use instead of sharing the parent's."""
        fork.inherit(self.__dict__.get("_cache"))
        self._cache = None


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



class MockPredictor(LmPredictor):
    """0.18's stand-in model for unit tests (see `get_mock_predictor`)."""

    provider = "mock"

    def __init__(self, predict_func: Callable[[LmPrompt], LmPrediction] | None = None,
                 is_chat_model: bool = False) -> None:
        super().__init__(cache_default=False)  # 0.18's default: tests leave nothing on disk
        self._func = predict_func
        self._chat = is_chat_model

    def model_identity(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": "mock_predictor"}

    @property
    def is_chat_model(self) -> bool:
        return self._chat

    def _predict_samples(self, prompt: LmPrompt, n: int) -> list[LmPrediction]:
        if self._func is not None:
            return [self._func(prompt) for _ in range(n)]
        text = prompt.get_text_as_string_default_form()
        return [LmPrediction(text, prompt, provider=self.provider, model="mock_predictor",
                             sample_index=i) for i in range(n)]


def get_mock_predictor(predict_func: Callable[[LmPrompt], LmPrediction] | None = None,
                       is_chat_model: bool = False) -> LmPredictor:
    """0.18's stand-in model for unit tests: answers with the prompt's text (chats in
    `role: content` form), or with `predict_func(prompt)`. It runs through the same engine
    as a real model (ordering, samples, errors) and does not cache."""
    return MockPredictor(predict_func, is_chat_model)
