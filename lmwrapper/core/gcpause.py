"""`gc_paused()`: the cyclic garbage collector off while 100,000s of acyclic objects are built;
`gc_frozen()`: the heap that exists when a live run starts left out of its collections.

Keys and cached predictions when a run is planned, parsed lines and rows when a batch result
file is collected: the collector's full scans of a heap that holds them all, repeated as the
objects pile up, cost ~20 % of serving a cached run and a third of ingesting a 50,000-line
file. Nothing built there holds a cycle, so nothing is left for the collector to find.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_frozen_lock = threading.Lock()
_frozen_by = 0  # the gc_frozen() blocks open, in any thread


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def gc_frozen() -> Iterator[None]:
    """The objects that exist now (the program's modules, the plan's prompts and keys, the
    caller's data: 100,000s) are moved out of the collector's way until the block ends, so
    that the full collections the run's own allocations trigger scan only what the run made.

    Measured at 256 requests in flight (benchmarks/bench_live.py): a full collection of a
    132,000-object heap cost 0.08 ms per request, a fifth of the client's CPU. Nothing is
    kept alive by it: at the end every frozen object goes back to the oldest generation,
    where the next full collection sees it. Nested or concurrent blocks (runs in several
    threads, a command that freezes the lines it read and then the plan of them) each
    freeze what exists when they start (a freeze moves lists, whatever their length);
    everything is unfrozen when the last one ends."""
    global _frozen_by
    with _frozen_lock:
        gc.freeze()
        _frozen_by += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_by -= 1
            if _frozen_by == 0:
                gc.unfreeze()
