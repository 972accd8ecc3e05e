"""Fork safety: a fork()ed child drops the SQLite and HTTP handles it would share with its parent.

`multiprocessing` forks on Linux by default, and scripts hand it a global predictor (0.18's
did). Every front door and backend is tracked (`Tracked.__new__`); in the child each forgets its
handles and reopens what it needs on first use, as an unpickled one does.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import Any, Protocol, Self


class Forkable(Protocol):
    def _after_fork(self) -> None: ...

_live: weakref.WeakSet[Forkable] = weakref.WeakSet()  # every predictor of this process
# Handles a forked child inherited from its parent. Kept referenced, never used or closed:
# closing them could disturb the parent (SQLite's file locks, a shared socket).
_inherited: list[Any] = []


def track(lm: Forkable) -> None:
    _live.add(lm)


class Tracked:
    """A base whose every instance is tracked (the front door and each backend), so a
    fork()ed child can drop what it shares with its parent: its `_after_fork()` runs there."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        obj = super().__new__(cls)
        track(obj)  # type: ignore[arg-type]  # each subclass defines _after_fork
        return obj


def inherit(*handles: Any) -> None:
    _inherited.extend(h for h in handles if h is not None)


def _after_fork_in_child() -> None:
    """In a fork()ed child, forget the parent's SQLite connections, HTTP clients and locks.

    Used from several processes at once, an inherited keep-alive socket interleaves their
    requests (garbled bodies, a 400 cached as an error, reads that never return) and an
    inherited SQLite connection shares file locks it must not. Each predictor reopens what
    it needs on first use, as an unpickled one does.
    """
    # Only modules the parent loaded hold anything (importing one here would be wasted work).
    sqlcache: Any = sys.modules.get("lmwrapper.store.db")
    if sqlcache is not None:
        inherit(*sqlcache._open_caches.values())
        sqlcache._open_caches.clear()
        sqlcache._open_lock = threading.Lock()  # a parent thread may have held it at fork
    ratelimit: Any = sys.modules.get("lmwrapper.runners.ratelimit")
    if ratelimit is not None:
        ratelimit._shared.clear()
        ratelimit._shared_lock = threading.Lock()
    for lm in list(_live):
        lm._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
