"""`ScriptedLm`: a fake language model with enqueued answers and a call log, for tests.

    >>> lm = ScriptedLm(cache_dir=tmp)
    >>> lm.enqueue("4", PermanentProviderError("too long"))
    >>> [p.completion_text for p in lm.predict_many(["2+2?", "x" * 9999])]
    ['4', None]

With the queue empty it answers deterministically (`default_answer`). `delay` makes it slow,
`call_log_path` appends one line per sample it produced (for tests across processes).

It is a front door (`predict`, `predict_many`, the cache) over a `ScriptedBackend`, which
answers; `lm.enqueue(...)`, `lm.call_log` and `lm.delay` are the backend's. To change what
it does, subclass the backend and name it: `class Slow(ScriptedBackend): ...` and
`class SlowLm(ScriptedLm): backend_class = Slow`.

It caches like any model, and its cache identity includes its answer function (qualified
name + a hash of its code), so `ScriptedLm(answer=other)` is never served `answer`'s cached
replies. What the code does not show — values a closure or a global holds, enqueued answers —
is not in the identity: give such a model its own `model="..."` name, or `cache_default=False`.
"""

from __future__ import annotations

import collections
import hashlib
import time
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from lmwrapper.core.contract import Runner, SequentialRunner
from lmwrapper.core.errors import ProviderError
from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import LmPrediction, LmPrompt, LmUsage
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.backend import LmBackend
from lmwrapper.engine.plan import unique_prompts
from lmwrapper.engine.predictor import ProviderPredictor


def default_answer(prompt: LmPrompt, call_number: int) -> str:
    """`"echo: <text>"`, plus the call number when sampling at temperature > 0."""
    text = prompt.get_text_as_string_default_form()
    return f"echo: {text}" if prompt.temperature == 0 else f"echo: {text} #{call_number}"


class ScriptedBackend(LmBackend):
    """What a `ScriptedLm` holds: it answers from its queue, else with `answer`, and logs
    every sample it produced."""

    provider = "scripted"

    def __init__(
        self,
        model: str = "scripted",
        *,
        answer: Callable[[LmPrompt, int], str] = default_answer,
        delay: float = 0.0,
        call_log_path: str | None = None,
        cost_per_call: float | None = None,
    ) -> None:
        self._model = model
        self._answer = answer
        self.delay = delay
        self.call_log: list[str] = []
        self._queue: collections.deque[str | ProviderError] = collections.deque()
        self._log_file = open(call_log_path, "a", buffering=1) if call_log_path else None  # noqa: SIM115  (lives with the model)
        self.cost_per_call = cost_per_call

    def enqueue(self, *answers: str | ProviderError) -> None:
        """Answers (or errors to raise) for the next calls, in order."""
        self._queue.extend(answers)

    def model_identity(self) -> dict[str, Any]:
        identity = {"provider": self.provider, "model": self._model}
        if self._answer is not default_answer:  # keeps the default's keys as they were
            identity["answer"] = answer_identity(self._answer)
        return identity

    def live_runner(self) -> Runner:
        """Like an API backend's: one request at a time, and it says how many are in flight."""
        return SequentialRunner(self._predict_or_error, self.max_samples_per_request)

    def estimate_cost(self, prompts: Sequence[LmPrompt], completion_window: CompletionWindow =
                      CompletionWindow.ASAP, *, samples: Sequence[int] | None = None) -> CostEstimate:
        """`cost_per_call` per sample (free without one): a fake's cost is always known."""
        prompts, samples = unique_prompts(prompts, samples, self.cache_default)
        usd = (self.cost_per_call or 0.0) * sum(samples)
        return CostEstimate(len(prompts), 0, 0, usd, 0.0, free=self.cost_per_call is None)

    def _predict_samples(self, prompt: LmPrompt, n: int) -> Sequence[LmPrediction]:
        return [self._one(prompt) for _ in range(n)]

    def _one(self, prompt: LmPrompt) -> LmPrediction:
        if self.delay:
            time.sleep(self.delay)
        text = prompt.get_text_as_string_default_form()
        self.call_log.append(text)
        if self._log_file is not None:
            self._log_file.write(text.replace("\n", "\\n") + "\n")
        answer = self._queue.popleft() if self._queue else self._answer(prompt, len(self.call_log))
        if isinstance(answer, ProviderError):
            raise answer
        return LmPrediction(
            completion_text=answer, prompt=prompt, finish_reason="stop",
            usage=LmUsage(len(text.split()), len(answer.split())), cost_usd=self.cost_per_call,
            provider=self.provider, model=self._model,
        )


class ScriptedLm(ProviderPredictor):
    """A fake model for tests (see the module's docstring): the front door of a
    `ScriptedBackend`, built from the same arguments."""

    backend_class: ClassVar[type[ScriptedBackend]] = ScriptedBackend

    def __init__(
        self,
        model: str = "scripted",
        *,
        answer: Callable[[LmPrompt, int], str] = default_answer,
        delay: float = 0.0,
        call_log_path: str | None = None,
        cost_per_call: float | None = None,
        cache_default: bool = True,
        cache_dir: str | None = None,
        **settings: Any,  # a backend subclass's own
    ) -> None:
        super().__init__(model, answer=answer, delay=delay, call_log_path=call_log_path,
                         cost_per_call=cost_per_call, cache_default=cache_default,
                         cache_dir=cache_dir, **settings)

    if TYPE_CHECKING:  # its backend's, through `LmPredictor.__getattr__`
        delay: float
        call_log: list[str]
        cost_per_call: float | None
        def enqueue(self, *answers: str | ProviderError) -> None: ...


def answer_identity(fn: Callable[..., Any]) -> str:
    """`module.qualname:hash` of an answer function's code (bytecode, constants, names), so
    two different functions never share cached answers; the same code always does."""
    code = getattr(fn, "__code__", None)
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    if code is None:  # a callable object or a builtin: its name is all we have
        return name
    return f"{name}:{hashlib.sha256(_code_fingerprint(code)).hexdigest()[:16]}"


def _code_fingerprint(code: types.CodeType) -> bytes:
    """The code and, recursively, its nested functions' code (their repr holds an address)."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        parts.append(_code_fingerprint(const) if isinstance(const, types.CodeType)
                     else repr(const).encode())
    return b"\x1f".join(parts)
