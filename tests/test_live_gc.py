"""`gc_frozen`: the heap that exists when a live run starts is left out of the run's
collections, and handed back to the collector, whole, when it ends."""

from __future__ import annotations

import gc
import threading
import weakref

from lmwrapper.core.gcpause import gc_frozen
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer
from tests.api_providers import OPENAI


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_frozen_objects_go_back_to_the_collector_when_the_last_block_ends():
    before = gc.get_freeze_count()
    cycle = _Node()
    gone = weakref.ref(cycle)
    entered, leave = threading.Event(), threading.Event()

    def other_run() -> None:
        with gc_frozen():
            entered.set()
            leave.wait(30)

    t = threading.Thread(target=other_run)
    t.start()
    entered.wait(30)
    with gc_frozen():
        assert gc.get_freeze_count() > before
        del cycle
        gc.collect()
        assert gone() is not None  # frozen: no collection sees it
    assert gc.get_freeze_count() > before  # the other block is still open
    leave.set()
    t.join()
    assert gc.get_freeze_count() == before
    gc.collect()
    assert gone() is None  # nothing kept alive


def test_a_live_run_leaves_nothing_frozen(monkeypatch):
    monkeypatch.delenv("LMWRAPPER_LIVE_HTTP", raising=False)
    before = gc.get_freeze_count()
    with FakeServer() as srv:
        lm = OPENAI.make(srv)
        assert lm.async_sender() is not None
        preds = list(lm.predict_many([LmPrompt(f"gc {i}", max_tokens=2, cache=False)
                                      for i in range(5)]))
    assert not [p.error_message for p in preds if p.has_errors]
    assert gc.get_freeze_count() == before


def test_a_nested_block_freezes_what_was_made_since_the_outer_one_began():
    before = gc.get_freeze_count()
    with gc_frozen():
        outer = gc.get_freeze_count()
        made = [_Node() for _ in range(100)]  # the plan, made after the lines were frozen
        with gc_frozen():
            assert gc.get_freeze_count() >= outer + len(made)
        assert gc.get_freeze_count() >= outer + len(made)  # all unfrozen only at the end
    assert gc.get_freeze_count() == before
    del made
    gc.collect()
