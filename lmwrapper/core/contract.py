"""The contract between the engine and a backend: what a runner is handed, how it answers.

A leaf module: the engine, the runners and the backends import it; it imports nothing of
lmwrapper but the values.

    runner(jobs, emit, should_stop)            # one Job per prompt: all its missing samples
        cut each Job into requests (Job.parts: the backend's max samples per request)
        for each part: emit(part, predictions)  # one prediction per sample index, in order
        stop starting new work once should_stop() is true
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lmwrapper.core.errors import LmWrapperError, ProviderError
from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow


@dataclass(frozen=True)
class Job:
    """Samples of one distinct prompt that the cache does not have yet. The engine hands a
    runner one job per prompt with every missing sample; the runner cuts it into requests
    (or batch lines) of at most what its backend takes in one (`parts`).

    A value: a runner that cuts or merges jobs makes new ones (`sample_indices` given as
    any sequence is kept as a tuple). `window` is the run's: a live request at a service
    tier (FLEX, PRIORITY) says so in its body."""

    key: str
    prompt: LmPrompt
    sample_indices: tuple[int, ...]
    window: CompletionWindow = CompletionWindow.ASAP

    def __post_init__(self) -> None:
        if not isinstance(self.sample_indices, tuple):
            object.__setattr__(self, "sample_indices", tuple(self.sample_indices))

    def parts(self, most: int | None) -> tuple[Job, ...]:
        """This job as requests of at most `most` samples each (None: no limit), each sent,
        retried and stored on its own (Claude takes 1: no `n`).

        >>> [j.sample_indices for j in Job("k", LmPrompt("x"), (0, 1, 3, 4, 5)).parts(2)]
        [(0, 1), (3, 4), (5,)]
        """
        idx = self.sample_indices
        if most is None or len(idx) <= most:
            return (self,)
        return tuple(Job(self.key, self.prompt, idx[i : i + most], self.window)
                     for i in range(0, len(idx), most))


def cut(jobs: Sequence[Job], most: int | None) -> Sequence[Job]:
    """Every job of `jobs` as requests of at most `most` samples (`Job.parts`), in order."""
    if most is None:
        return jobs
    return [part for job in jobs for part in job.parts(most)]


Emit = Callable[[Job, Sequence[LmPrediction]], None]

# A Job's key starts with this when its prompt neither reads nor writes the cache
# (`cache=False`): a runner that stores results itself must not store those.
NO_CACHE_PREFIX = "nocache:"
ShouldStop = Callable[[], bool]


class Runner(Protocol):
    """Answers jobs; the engine picks one per run (batch, live API, or a local model's loop).

    `run` is handed one job per prompt, with every sample the cache lacks; it cuts them
    into requests or batch lines as its backend allows (`Job.parts`) and emits each part as
    it is answered. It returns once every sample was emitted, or soon after `should_stop()`
    turns true: it starts nothing new then, but emits what arrives for requests already sent.

    `stores_results`: True when everything the runner emits is in the cache already (or
    must not be: the batch engine stores each answer with the line it closes), so the
    engine does not write it again; False (most runners): the engine stores what is emitted.
    """

    @property
    def stores_results(self) -> bool: ...

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None: ...

    def in_flight(self) -> int | None:
        """Requests sent and not answered yet (what a stopping run still waits for); None
        when the runner cannot tell (a local model's own loop)."""
        ...


class Backend(Protocol):
    """What the engine and the runners may ask of a model, beyond sending: its name and
    identity, how its cache rows read back, its error predictions and its cost bound.
    Every `engine.backend.LmBackend` is one; the front door (`LmPredictor`) holds one as
    `lm.backend`."""

    @property
    def provider(self) -> str: ...

    @property
    def supports_batch(self) -> bool: ...

    def model_name(self) -> str: ...

    def identity_json(self) -> str:
        """The canonical JSON of `model_identity()`: part of every cache key."""
        ...

    def blob_to_internals(self, blob: bytes) -> Any: ...

    def error_prediction(self, prompt: LmPrompt, error: ProviderError) -> LmPrediction: ...

    def estimate_cost(self, prompts: Sequence[LmPrompt],
                      completion_window: CompletionWindow = CompletionWindow.ASAP, *,
                      samples: Sequence[int] | None = None) -> CostEstimate: ...

    def check_window(self, window: CompletionWindow) -> None:
        """Raise `ValueError` (what to use instead) for a window the model is not sold in."""
        ...


class SequentialRunner:
    """One request at a time, in job order: the runner of a backend that only knows how to
    answer one prompt (`answer(prompt, n)` → n predictions, or error predictions), at most
    `most` samples per call (None: a job's samples in one)."""

    stores_results = False

    def __init__(self, answer: Callable[[LmPrompt, int], Sequence[LmPrediction]],
                 most: int | None = None) -> None:
        self._answer = answer
        self._most = most
        self._busy = 0
        self._lock = threading.Lock()

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None:
        for job in cut(jobs, self._most):
            if should_stop():
                return
            with self._lock:
                self._busy = 1
            try:  # in flight until its answer is handed over
                emit(job, self._answer(job.prompt, len(job.sample_indices)))
            finally:
                with self._lock:
                    self._busy = 0

    def in_flight(self) -> int:
        with self._lock:
            return self._busy


# -- what the event-loop sender (`runners.lean`) needs of an API backend -----------------------

class AsyncPost(Protocol):
    """`await post(path, body)`: the text of a 2xx answer to `body` POSTed to base_url +
    path; `headers` replace the client's for this request (Anthropic's API version)."""

    def __call__(self, path: str, body: Mapping[str, Any],
                 headers: Mapping[str, str] | None = None) -> Awaitable[str]: ...


class HeaderObserver(Protocol):
    """A rate limiter, as a sender sees it: it learns from every answer's headers."""

    def observe(self, headers: Mapping[str, str]) -> None: ...


class ApiBackend(Protocol):
    """An HTTP API backend (`providers.base.HttpApiBackend`) as its senders see it: where it
    sends, how it paces, and how it reads and words an error."""

    base_url: str
    timeout_s: float

    @property
    def display_name(self) -> str: ...  # "OpenAI": for messages

    @property
    def limiter(self) -> HeaderObserver: ...

    def client(self) -> Any:
        """The SDK client: its headers (auth, API version) are the lean client's too."""
        ...

    def scrub(self, text: str) -> str: ...

    def classify(self, status: int | None, body: Any,
                 headers: Mapping[str, str] | None = None) -> LmWrapperError: ...


class AsyncBackend(ApiBackend, Protocol):
    """An API backend whose requests the lean client sends (`supports_lean_http`): the
    sender does the transport, the backend builds each request and parses its answer."""

    async def send_async(self, job: Job, post: AsyncPost) -> Sequence[LmPrediction]: ...
