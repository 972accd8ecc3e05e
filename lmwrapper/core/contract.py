"""The contract between the engine and a backend: what a runner is handed, how it answers.

A leaf module: the engine, the runners and the backends import it; it imports nothing of
lmwrapper but the values.

    runner(jobs, emit, should_stop)
        for each Job: emit(job, predictions)   # one prediction per sample index, in order
        stop starting new work once should_stop() is true
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from lmwrapper.core.prompt import LmPrediction, LmPrompt


@dataclass
class Job:
    """Samples of one distinct prompt that the cache does not have yet, sent together: at
    most the backend's `max_samples_per_request`, so one prompt may have several jobs."""

    key: str
    prompt: LmPrompt
    sample_indices: list[int]


Emit = Callable[[Job, Sequence[LmPrediction]], None]

# A Job's key starts with this when its prompt neither reads nor writes the cache
# (`cache=False`): a runner that stores results itself must not store those.
NO_CACHE_PREFIX = "nocache:"
ShouldStop = Callable[[], bool]


class Runner(Protocol):
    """Answers jobs; the engine picks one per run (batch, live API, or a local model's loop).

    `run` returns once every job was emitted, or soon after `should_stop()` turns true: it
    starts nothing new then, but emits what arrives for requests already sent.
    """

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None: ...

    def in_flight(self) -> int:
        """Requests sent and not answered yet (what a stopping run still waits for)."""
        ...


class SequentialRunner:
    """One request at a time, in job order: the runner of a backend that only knows how to
    answer one prompt (`answer(prompt, n)` → n predictions, or error predictions)."""

    def __init__(self, answer: Callable[[LmPrompt, int], Sequence[LmPrediction]]) -> None:
        self._answer = answer
        self._busy = 0
        self._lock = threading.Lock()

    def run(self, jobs: Sequence[Job], emit: Emit, should_stop: ShouldStop) -> None:
        for job in jobs:
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
