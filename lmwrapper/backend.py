"""The contract between the engine and a backend: what a runner is handed, how it answers.

A leaf module: the engine, the runners and the backends import it; it imports nothing of
lmwrapper but the values.

    runner(jobs, emit, should_stop)
        for each Job: emit(job, predictions)   # one prediction per sample index, in order
        stop starting new work once should_stop() is true
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from lmwrapper.structs import LmPrediction, LmPrompt


@dataclass
class Job:
    """Samples of one distinct prompt that the cache does not have yet."""

    key: str
    prompt: LmPrompt
    sample_indices: list[int]


Emit = Callable[[Job, Sequence[LmPrediction]], None]
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
