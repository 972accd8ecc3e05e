"""`LmPredictor`: the front door (`predict`, `predict_many`, the cache), holding a backend.

The front door owns what is the same for every model: normalising what it is handed,
the cache, and a run (`lmwrapper.engine.plan` plans it, `lmwrapper.engine.run` runs it,
and only this front door imports them). What is the model's — who it is, how a prompt
becomes a request and an answer a prediction, its runner, tokens, cost — is its backend's
(`lmwrapper.engine.backend.LmBackend`), which the front door holds as `lm.backend` and
the engine asks through it. Anything else asked of the front door (`lm.model_name()`,
`lm.estimate_tokens_in_prompt(p)`, `lm.model` …) is its backend's too.

A provider's public class (`OpenAiPredictor`, 0.18's `OpenAIPredictor`,
`AzureOpenAiPredictor`, `ClaudePredictor`, `HuggingFacePredictor`; the testing fake
`ScriptedLm`; 0.18's `MockPredictor`, in `lmwrapper.compat018.mock`) is a front door only
(`ProviderPredictor`): it builds its backend (`OpenAiBackend`, `ClaudeBackend`,
`HuggingFaceBackend`, `ScriptedBackend`, `MockBackend`) from the same constructor arguments and holds it, as `LmPredictor(backend=b)`
holds one written on its own. A setting written to a front door that holds a backend
(`lm.max_concurrency = 2`) is written to that backend. A class written as both
(`class X(LmPredictor, LmBackend)`) is its own backend (`lm.backend is lm`). A subclass of
`LmPredictor` written for 0.18 (`_predict_maybe_cached`, `get_model_cache_key`) is held
through an adapter of `lmwrapper.compat018` (`Backend018`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from lmwrapper.core import extend
from lmwrapper.core.prompt import ChatTurnLike, LmChatDialog, LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine import fork
from lmwrapper.engine.backend import LmBackend, LmReasoningStyle
from lmwrapper.engine.plan import BARE_STRING_MAX_TOKENS, Plan, RunSummary, as_prompt
from lmwrapper.engine.run import Results, Run
from lmwrapper.store.db import SqlCache, get_cache

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lmwrapper.core.money import CostEstimate

    class _ModelFacts:
        """What a front door answers from its backend (`LmPredictor.__getattr__`), declared
        for mypy: the model facts of the public API. A class that is its own backend
        defines them itself (`LmBackend`)."""

        def model_name(self) -> str: ...
        def model_identity(self) -> dict[str, Any]: ...
        def identity_json(self) -> str: ...
        def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int: ...
        def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window:
                          CompletionWindow = CompletionWindow.ASAP, *,
                          samples: Sequence[int] | None = None) -> CostEstimate: ...
        def default_max_tokens(self, prompt: LmPrompt) -> int: ...
        def could_completion_go_over_token_limit(self, prompt: LmPrompt) -> bool: ...
        def tokenize(self, input_str: str) -> list[str]: ...
        @property
        def token_limit(self) -> int: ...
        @property
        def is_chat_model(self) -> bool: ...
        @property
        def supports_token_operations(self) -> bool: ...
        @property
        def supports_prefilled_chat(self) -> bool: ...
        @property
        def reasoning_style(self) -> LmReasoningStyle: ...
else:
    _ModelFacts = object


# The front door's own attributes (`LmPredictor.__init__`, `backend`); any other one read or
# written on it is its backend's.
_FRONT_DOOR = frozenset({"_cache_dir", "_cache", "last_run", "_backend", "_backend018"})


class LmPredictor(fork.Tracked, _ModelFacts):
    """The front door of every model: `predict`, `predict_many` and the cache, over
    `self.backend` (the model itself: see the module's docstring)."""

    def __init__(self, cache_default: bool = True, cache_dir: str | None = None, *,
                 backend: LmBackend | None = None) -> None:
        self.cache_default = cache_default
        self._cache_dir = cache_dir
        self._cache: SqlCache | None = None
        self.last_run: RunSummary | None = None
        if backend is not None:
            self._backend = backend
            backend.cache_default = cache_default  # its cost estimate dedupes as we do

    @property
    def backend(self) -> LmBackend:
        """The model: the backend it was given (every API provider's class builds its own),
        else this object itself when it is one (a local model's class), else (a subclass
        written for 0.18) its compat018 adapter."""
        held: LmBackend | None = self.__dict__.get("_backend")
        if held is not None:
            return held
        if isinstance(self, LmBackend):
            return self
        adapter: LmBackend | None = self.__dict__.get("_backend018")
        if adapter is None:
            adapter = self.__dict__["_backend018"] = extend.adapter("predictor_backend")(self)
        return adapter

    if not TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any:
            """What the front door does not have is its backend's (`lm.model_name()`, …)."""
            if name.startswith("__") or name in _FRONT_DOOR or isinstance(self, LmBackend):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            return getattr(self.backend, name)

        def __setattr__(self, name: str, value: Any) -> None:
            """A setting written to the front door (`lm.max_concurrency = 2`) is written to
            the backend it holds, which is what reads it; `cache_default` is both (the
            backend's cost estimate dedupes as the front door does)."""
            held = self.__dict__.get("_backend")
            if held is not None and name not in _FRONT_DOOR and hasattr(held, name):
                setattr(held, name, value)
                if name != "cache_default":
                    return
            object.__setattr__(self, name, value)

        def __delattr__(self, name: str) -> None:
            held = self.__dict__.get("_backend")
            if held is not None and name not in self.__dict__:
                delattr(held, name)  # what `monkeypatch.setattr(lm, ...)` set, undone
                return
            object.__delattr__(self, name)

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

    @property
    def cache(self) -> SqlCache:
        # a file deleted or replaced since: the one now in its place (which imports the
        # journal of what was written to the old one)
        if self._cache is None or self._cache.replaced():
            self._cache = get_cache(self._cache_dir)
        return self._cache

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

    def _after_fork(self) -> None:
        """In a forked child: reopen the cache on first use instead of sharing the parent's."""
        fork.inherit(self.__dict__.get("_cache"))
        self._cache = None


class ProviderPredictor(LmPredictor):
    """The front door of a provider's model: it builds its `backend_class` from the
    constructor's arguments (all but `cache_default` and `cache_dir`, which are the front
    door's) and holds it as `lm.backend`. What it does not have is its backend's (`lm.model`,
    `lm.tokenizer`, ...), and a setting written to it (`lm.batch_size = 8`) is written to
    its backend. `lmwrapper.providers.predictor.ApiPredictor` (OpenAI, Claude),
    `HuggingFacePredictor` and `ScriptedLm` are ones.

    To change what a model does, subclass its backend and name it on a front door:

        class MyBackend(OpenAiBackend):
            def request_for(self, prompt, n, **kw): ...
        class MyPredictor(OpenAiPredictor):
            backend_class = MyBackend
    """

    backend_class: ClassVar[type[LmBackend]] = LmBackend

    def __init__(self, *args: Any, cache_default: bool = True, cache_dir: str | None = None,
                 **settings: Any) -> None:
        super().__init__(cache_default, cache_dir,
                         backend=self.backend_class(*args, **settings))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass overriding what is its backend's would be ignored: say so, and how."""
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("lmwrapper."):
            return
        moved = sorted(n for n in vars(cls) if not n.startswith("__") and n != "backend_class"
                       and hasattr(cls.backend_class, n) and not hasattr(LmPredictor, n))
        if moved:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(moved)}, which {cls.__mro__[1].__name__}'s "
                f"backend ({cls.backend_class.__name__}) does, so it would be ignored: define "
                f"them on a subclass of {cls.backend_class.__name__} and name it on "
                f"{cls.__name__} as backend_class (see lmwrapper.engine.predictor."
                "ProviderPredictor)")
