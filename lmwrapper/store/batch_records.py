"""Batch jobs, batches and lines as records in the cache database.

    batch_jobs     one row per run that submitted something (the CLI's JOB)
    batch_batches  one row per batch: planned → uploaded → submitted → collected
    batch_lines    one row per request line: claimed → planned → done | failed
                   (a transient failure puts it back to claimed, attempts + 1)

Every row is written *before* the step it describes happens at the provider, so a process
killed between any two steps finds its work on the next run. A line (key, first sample, n)
is claimed in the database, in one transaction, before it is planned: a second process
running the same prompts sees the claim and waits for that line instead of sending it again.

Ownership: a line or batch is owned by one runner (`owner` = host:pid:token). A runner
takes over work whose owner is gone (same host, process dead; or another host silent for
`stale_s`); work of a live owner is only watched.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lmwrapper.store.db import SqlCache

LIVE_LINE_STATES = ("claimed", "planned")
PRE_SUBMIT_STATES = ("planned", "uploaded")
_CHUNK = 20_000
_HOST = socket.gethostname()
_live_tokens: set[str] = set()  # runners alive in this process
_live_lock = threading.Lock()


def new_owner() -> str:
    """An owner name for one runner (host:pid:process-start:token), alive until `release_owner`."""
    token = f"{_HOST}:{os.getpid()}:{_started(os.getpid())}:{uuid.uuid4().hex[:8]}"
    with _live_lock:
        _live_tokens.add(token)
    return token


def release_owner(owner: str) -> None:
    with _live_lock:
        _live_tokens.discard(owner)


def owner_alive(owner: str | None, updated_at: float | None = None, stale_s: float = 3600.0) -> bool:
    """Whether `owner` may still act on its work (so nobody else should).

    On this host: its process (or, in this process, its runner) is alive — the same process,
    not a new one that got its pid after a reboot (checked by start time where the OS tells
    it). Another host's owner counts as alive until its record is `stale_s` old (unknown
    age: alive)."""
    if not owner:
        return False
    host, pid_s, started, *_ = (owner.split(":") + ["", "", ""])[:4]
    if host != _HOST:
        return updated_at is None or time.time() - updated_at < stale_s
    pid = int(pid_s)
    if pid == os.getpid():
        with _live_lock:
            return owner in _live_tokens
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    now = _started(pid)
    return started in ("", "-") or now == "-" or now == started


def _started(pid: int) -> str:
    """When `pid` started, as boot id + start tick (Linux); "-" where the OS does not say."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            tick = f.read().rsplit(")", 1)[1].split()[19]  # field 22: starttime
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip().replace("-", "")[:12]
        return f"{boot}.{tick}"
    except (OSError, IndexError):
        return "-"


def new_id(prefix: str) -> str:
    """A short id usable as (part of) a custom id: [A-Za-z0-9_-]."""
    return prefix + uuid.uuid4().hex[:16]


@dataclass
class LineRow:
    custom_id: str
    key: str
    first_sample: int
    n: int
    state: str
    owner: str | None
    uid: str | None
    attempts: int = 0
    error: str | None = None
    claimed_at: float | None = None

    @property
    def samples(self) -> range:
        return range(self.first_sample, self.first_sample + self.n)


@dataclass
class BatchRow:
    uid: str
    job_id: str
    state: str
    owner: str | None
    input_path: str | None
    file_id: str | None
    remote_id: str | None
    remote_status: str | None
    lines: int
    tokens: int
    error: str | None
    updated_at: float


_BATCH_COLS = ("uid, job_id, state, owner, input_path, file_id, remote_id, remote_status, "
               "lines, tokens, error, updated_at")
# a line's claim is as old as its job (lines are claimed in the job's first transaction)
_LINE_COLS = ("custom_id, key, first_sample, n, state, l.owner, uid, attempts, error, "
              "(SELECT created_at FROM batch_jobs j WHERE j.job_id = l.job_id)")


class Records:
    """The batch tables of one cache file."""

    def __init__(self, cache: SqlCache) -> None:
        self.cache = cache

    @contextmanager
    def durable(self) -> Iterator[sqlite3.Connection]:
        """One write transaction committed with `synchronous=FULL`: on disk before we go on
        (a record must survive a power cut before the provider is told anything)."""
        with self.cache._lock:  # re-entrant: write() takes it again
            conn = self.cache._conn
            conn.execute("PRAGMA synchronous = FULL")  # cannot change inside a transaction
            try:
                with self.cache.write() as c:
                    yield c
            finally:
                conn.execute("PRAGMA synchronous = NORMAL")

    def read(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self.cache._lock:
            return self.cache._conn.execute(sql, tuple(args)).fetchall()

    # -- lines ------------------------------------------------------------------------------
    def lines_for_keys(self, c: sqlite3.Connection, keys: list[str]) -> dict[str, list[LineRow]]:
        """Live lines (claimed / planned) of `keys`, with a few queries in all."""
        out: dict[str, list[LineRow]] = {}
        q = (f"SELECT {_LINE_COLS} FROM batch_lines l WHERE key IN "
             "(SELECT value FROM json_each(?)) AND state IN ('claimed', 'planned')")
        for chunk in _chunks(keys):
            for row in c.execute(q, (json.dumps(chunk),)):
                line = LineRow(*row)
                out.setdefault(line.key, []).append(line)
        return out

    def cached_samples(self, c: sqlite3.Connection, keys: list[str]) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        q = "SELECT key, sample_index FROM predictions WHERE key IN (SELECT value FROM json_each(?))"
        for chunk in _chunks(keys):
            for key, idx in c.execute(q, (json.dumps(chunk),)):
                out.setdefault(key, set()).add(idx)
        return out

    def lines_by_id(self, custom_ids: list[str], where: str = "", args: tuple[Any, ...] = ()
                    ) -> list[LineRow]:
        """The lines of `custom_ids` (those matching the SQL condition `where`, if given)."""
        q = (f"SELECT {_LINE_COLS} FROM batch_lines l WHERE custom_id IN "
             f"(SELECT value FROM json_each(?)){f' AND ({where})' if where else ''}")
        out = []
        for chunk in _chunks(custom_ids):
            out += [LineRow(*r) for r in self.read(q, (json.dumps(chunk), *args))]
        return out

    def batches_of(self, custom_ids: list[str]) -> set[str]:
        """The batches (uids) holding `custom_ids`: a few queries, no row objects, however
        many lines a job waits for."""
        q = ("SELECT DISTINCT uid FROM batch_lines WHERE custom_id IN (SELECT value FROM "
             "json_each(?)) AND uid IS NOT NULL")
        return {uid for chunk in _chunks(custom_ids) for (uid,) in self.read(q, (json.dumps(chunk),))}

    def set_planned(self, c: sqlite3.Connection, uid: str, custom_ids: list[str]) -> None:
        """Mark `custom_ids` planned into batch `uid` (one statement per 20,000 lines)."""
        for chunk in _chunks(custom_ids):
            c.execute("UPDATE batch_lines SET state = 'planned', uid = ? WHERE custom_id IN "
                      "(SELECT value FROM json_each(?))", (uid, json.dumps(chunk)))

    def line_prompts(self, uid: str) -> list[tuple[str, str, int, int, str, int]]:
        """(custom_id, key, first_sample, n, prompt_json, attempts) of a batch's lines."""
        return [tuple(r) for r in self.read(  # type: ignore[misc]
            "SELECT custom_id, key, first_sample, n, prompt, attempts FROM batch_lines "
            "WHERE uid = ? AND state = 'planned'", (uid,))]

    # -- batches ----------------------------------------------------------------------------
    def batch(self, uid: str) -> BatchRow | None:
        rows = self.read(f"SELECT {_BATCH_COLS} FROM batch_batches WHERE uid = ?", (uid,))
        return BatchRow(*rows[0]) if rows else None

    def batches(self, uids: Iterable[str]) -> list[BatchRow]:
        q = f"SELECT {_BATCH_COLS} FROM batch_batches WHERE uid IN (SELECT value FROM json_each(?))"
        return [BatchRow(*r) for r in self.read(q, (json.dumps(sorted(set(uids))),))]

    def job_batches(self, job_id: str) -> list[BatchRow]:
        return [BatchRow(*r) for r in self.read(
            f"SELECT {_BATCH_COLS} FROM batch_batches WHERE job_id = ? ORDER BY created_at",
            (job_id,))]

    def set_batch(self, uid: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.durable() as c:
            c.execute(f"UPDATE batch_batches SET {cols} WHERE uid = ?", (*fields.values(), uid))

    def take_batch(self, uid: str, owner: str, stale_s: float) -> bool:
        """Make `owner` the owner of a batch not yet submitted whose owner is gone."""
        with self.durable() as c:
            row = c.execute("SELECT state, owner, updated_at FROM batch_batches WHERE uid = ?",
                            (uid,)).fetchone()
            if row is None or row[0] not in PRE_SUBMIT_STATES:
                return False
            if row[1] != owner and owner_alive(row[1], row[2], stale_s):
                return False
            c.execute("UPDATE batch_batches SET owner = ?, updated_at = ? WHERE uid = ?",
                      (owner, time.time(), uid))
            return True


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
