"""Live claims: two processes running the same prompts on one cache file pay for each once.

    run A ─► take(jobs): one transaction claims every key no live other owner holds
           ─► sends its keys, renewing the lease every lease/3 ─► stores ─► releases (end, stop)
    run B ─► take(jobs): keys A holds (or that the cache now has) are *held*, not sent
           ─► polls them (bulk lookups, every `poll_s`): an answer that appears is served
              from the cache; a key whose claim lapsed (A died or stopped) is claimed and sent

A run paused past its lease (Ctrl-Z, a laptop asleep, SIGSTOP) may have lost its claims to
another run that answered them meanwhile: `lapsed()` turns true once the lease has run out
since this run last took or renewed its claims, and the engine then sends nothing more
before it has taken them again (`take`: what is answered now is served from the cache).

A claim belongs to a live owner while its lease has not expired and, on this host, its
process is still the one that claimed (a SIGKILLed owner is taken over at once; another
host's after `lease_s` without renewal). The batch engine has claims of its own (per line,
in `batch_lines`); this module serves the live and local runners. Settings, each resolved
once (argument, then environment, then default):

    LMWRAPPER_CLAIM_LEASE_S   how long a claim holds without renewal (default 60)
    LMWRAPPER_CLAIM_POLL_S    how often held keys are looked up (default 1)
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence

from lmwrapper.core.contract import NO_CACHE_PREFIX, Job
from lmwrapper.store.batch_records import new_owner, owner_alive, release_owner
from lmwrapper.store.db import SqlCache

LEASE_ENV, POLL_ENV = "LMWRAPPER_CLAIM_LEASE_S", "LMWRAPPER_CLAIM_POLL_S"
_CHUNK = 5_000  # keys claimed per transaction: a long one would stall other writers
_Rows = dict[str, tuple[tuple[int, str, bytes | None, bool], ...]]


def _seconds(env: str, default: float) -> float:
    raw = os.environ.get(env)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"{env}={raw!r} is not a positive number of seconds; fix or unset it")
    return value


class Lease:
    """One run's claims on a cache file: `take`, `poll` while some are held elsewhere, `close`."""

    def __init__(self, cache: SqlCache, *, retry_errors: bool = False,
                 lease_s: float | None = None, poll_s: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self._clock = clock
        self._valid_until = float("inf")  # until the first take: nothing claimed to lose
        self.retry_errors = retry_errors  # a cached error row is then no answer: it is resent
        self.lease_s = lease_s or _seconds(LEASE_ENV, 60.0)
        self.poll_s = poll_s or _seconds(POLL_ENV, 1.0)
        self.owner = new_owner()
        self._closed = threading.Event()
        self._renewer: threading.Thread | None = None

    def take(self, jobs: Sequence[Job]) -> tuple[list[Job], list[Job]]:
        """(mine, held): claim the keys of `jobs` that no live other owner holds and the cache
        does not answer yet; the others are held, to be `poll`ed. Uncached prompts are mine."""
        mine = [j for j in jobs if j.key.startswith(NO_CACHE_PREFIX)]
        keyed = [j for j in jobs if not j.key.startswith(NO_CACHE_PREFIX)]
        by_key: dict[str, list[Job]] = {}
        for j in keyed:
            by_key.setdefault(j.key, []).append(j)
        keys = sorted(by_key)  # in key order: neighbours share b-tree pages
        held_keys: set[str] = set()
        taken_at = self._clock()
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            held_keys |= self._claim_chunk(chunk, [j for k in chunk for j in by_key[k]])
        held = [j for j in keyed if j.key in held_keys]
        mine += [j for j in keyed if j.key not in held_keys]
        self._valid_until = taken_at + self.lease_s
        if len(mine) > len(jobs) - len(keyed) and self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="lmwrapper-lease", daemon=True)
            self._renewer.start()
        return mine, held

    def _claim_chunk(self, keys: list[str], jobs: Sequence[Job]) -> set[str]:
        """Claim what is free of `keys` in one transaction; return the keys held elsewhere or
        answered (checked under the same lock, so an answer stored just before is seen)."""
        arg = (json.dumps(keys),)
        now = self._clock()
        with self.cache.write() as c:
            # one statement: this runs for every run that sends anything
            stored: dict[str, set[int]] = {}
            claims = set()
            for key, owner, expires, idx, is_error in c.execute(
                    "SELECT k.value, c.owner, c.expires, p.sample_index, p.is_error "
                    "FROM json_each(?) AS k LEFT JOIN claims AS c ON c.key = k.value "
                    "LEFT JOIN predictions AS p ON p.key = k.value "
                    "WHERE c.key IS NOT NULL OR p.key IS NOT NULL", arg):
                if owner is not None:
                    claims.add((key, owner, expires))
                if idx is not None and not (is_error and self.retry_errors):
                    stored.setdefault(key, set()).add(idx)
            held = self._held_by_others(claims, now)
            held |= {j.key for j in jobs if stored.get(j.key, set()).issuperset(j.sample_indices)}
            free = [(k, self.owner, now + self.lease_s) for k in keys if k not in held]
            c.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", free)
        return held

    def _held_by_others(self, claims: set[tuple[str, str, float]], now: float) -> set[str]:
        alive: dict[str, bool] = {}  # one liveness check per owner, not per key
        held = set()
        for key, owner, expires in claims:
            if owner == self.owner or expires <= now:
                continue
            if owner not in alive:
                alive[owner] = owner_alive(owner)
            if alive[owner]:
                held.add(key)
        return held

    def poll(self, held: list[Job]) -> tuple[list[Job], _Rows, list[Job], list[Job]]:
        """(held jobs now answered, their rows, jobs taken over to send, jobs still held)."""
        rows = self.cache.get_many(list({j.key for j in held}))
        ready: list[Job] = []
        waiting: list[Job] = []
        for j in held:
            (ready if self._answered(j, rows.get(j.key, ())) else waiting).append(j)
        taken, still = self.take(waiting) if waiting else ([], [])
        return ready, rows, taken, still

    def _answered(self, job: Job, rows: Sequence[tuple[int, str, bytes | None, bool]]) -> bool:
        have = {idx for idx, _, _, is_error in rows if not (is_error and self.retry_errors)}
        return have.issuperset(job.sample_indices)

    def lapsed(self) -> bool:
        """Whether this run's claims may have lapsed (no take or renewal for a whole lease):
        others may have taken and answered them, so nothing more is to be sent before `take`."""
        return self._clock() >= self._valid_until

    def _renew(self) -> None:
        """Push this owner's claims' expiry forward while the run lives (a stuck request does
        not lose them; a killed process stops renewing, and they lapse)."""
        while not self._closed.wait(self.lease_s / 3):
            if self.lapsed():
                continue  # woken past the lease: a renewal would take back what others hold
            now = self._clock()
            # a missed renewal costs at worst a resend, never an answer
            with contextlib.suppress(Exception):
                with self.cache.write() as c:
                    c.execute("UPDATE claims SET expires = ? WHERE owner = ?",
                              (now + self.lease_s, self.owner))
                self._valid_until = now + self.lease_s

    def close(self, *, release: bool = True) -> None:
        """Release every claim of this run (at its end, and when it stops early); with
        `release=False` (the cache cannot be written) they are left to lapse."""
        self._closed.set()
        if self._renewer is not None and release:
            self._renewer.join()
            # A failed release must not fail a run that got every answer: the claims then
            # lapse (this process gone, or the lease over) and others take them over.
            with contextlib.suppress(Exception), self.cache.write() as c:
                c.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
        release_owner(self.owner)


def prune_claims(cache: SqlCache) -> tuple[int, int]:
    """(dropped, kept): delete the claims no live owner holds — a SIGKILLed process's (whose
    pid is gone or reused), and any whose lease has run out. A live run's claims, and another
    host's until its lease lapses, are kept. Runs never need this (a dead owner's claim is
    taken over on first sight); it tidies the file and `cache stats`."""
    now = time.time()
    with cache.write() as c:
        rows = c.execute("SELECT owner, expires FROM claims").fetchall()
        alive = {owner: owner_alive(owner) for owner in {o for o, _ in rows}}
        dead = [(o,) for o in alive if not alive[o]]
        c.executemany("DELETE FROM claims WHERE owner = ?", dead)
        expired = c.execute("DELETE FROM claims WHERE expires <= ?", (now,)).rowcount
    dropped = sum(1 for o, _ in rows if not alive[o]) + expired
    return dropped, len(rows) - dropped


def count_claims(cache: SqlCache) -> tuple[int, int]:
    """(held by live owners, left by dead or expired ones): what `cache prune` would keep/drop."""
    now = time.time()
    rows = cache.query("SELECT owner, expires FROM claims")
    alive = {owner: owner_alive(owner) for owner in {o for o, _ in rows}}
    live = sum(1 for o, e in rows if alive[o] and e > now)
    return live, len(rows) - live
