"""Stopping a local generation within about a second, and never leaving torch running at exit.

The prefill of a large batch can take tens of seconds on a CPU (64 rows x 512 prompt tokens
through SmolLM2-135M is ~9 TFLOP), so checking `should_stop()` only between decode steps is
not enough. `interruptible(model, stop)` adds a forward pre-hook to every module that holds
parameters: once `stop()` is true, the next such module raises `Stopped`, which unwinds the
forward pass. The KV cache it was filling is thrown away with the rows it belonged to.

    with RUNNING, interruptible(model, stop):
        try:
            out = model(...)
        except Stopped:
            ...  # report nothing unfinished

At interpreter exit a daemon thread still inside a torch op makes the C++ runtime abort the
process ("terminate called without an active exception", exit status 134). The exit
handler below sets `EXITING` (every `stop` made by `stop_check` reads it) and waits for the
threads counted in `RUNNING` to leave the model.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

ShouldStop = Callable[[], bool]

EXIT_WAIT_S = 30.0  # how long the exit handler waits for a generation to unwind (~1 module)


class Stopped(Exception):
    """Raised inside a forward pass once the run was asked to stop."""


class _Running:
    """Counts the threads inside a generation, so the exit handler can wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def __enter__(self) -> None:
        with self._cond:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout)


RUNNING = _Running()
EXITING = threading.Event()


def stop_check(should_stop: ShouldStop | None = None) -> ShouldStop:
    """`should_stop`, also true once the interpreter is exiting."""
    if should_stop is None:
        return EXITING.is_set
    return lambda: EXITING.is_set() or should_stop()


@contextlib.contextmanager
def interruptible(model: Any, stop: ShouldStop) -> Iterator[None]:
    """Within: a forward pass of `model` on this thread raises `Stopped` at its next module
    once `stop()` is true. Other threads using the same model are not affected."""
    thread = threading.get_ident()

    def hook(module: Any, args: Any) -> None:
        if threading.get_ident() == thread and stop():
            raise Stopped

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()
               if next(m.parameters(recurse=False), None) is not None]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@atexit.register
def _stop_at_exit() -> None:
    EXITING.set()
    RUNNING.wait_idle(EXIT_WAIT_S)
