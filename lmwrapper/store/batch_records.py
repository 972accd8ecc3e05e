"""Batch jobs, batches and lines as records in the cache database.

    batch_jobs     one row per run that submitted something (the CLI's JOB)
    batch_batches  one row per batch: planned → uploaded → submitted → collected
    batch_lines    one row per request line: claimed → planned → done | failed
                   (a transient failure puts it back to claimed, attempts + 1);
                   claimed | planned → abandoned (`lmwrapper batch abandon`): never sent
                   again until `resume_job`; answered only by its own batch, if the
                   provider answered it before the cancel

Every row is written *before* the step it describes happens at the provider, so a process
killed between any two steps finds its work on the next run. A line (key, first sample, n)
is claimed in the database, in one transaction, before it is planned: a second process
running the same prompts sees the claim and waits for that line instead of sending it again.

Every statement on these tables is here: the runner, its collector, a provider's adapter
and `lmwrapper batch` call the named methods of `Records`, and the claim transaction's
(`Records.claiming()`), never SQL of their own.

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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from lmwrapper.store.db import SqlCache, insert_rows
from lmwrapper.store.rows import CacheRow

# (custom_id, key, first_sample, n, prompt_json) of a line to claim
NewLine = tuple[str, str, int, int, str]
# (state, error, attempts, custom_id): a line's fate after its batch was collected
LineUpdate = tuple[str, str | None, int, str]
LIVE_LINE_STATES = ("claimed", "planned")
ABANDONED = "abandoned"
_SUBMITTED_UIDS = "(SELECT uid FROM batch_batches WHERE state = 'submitted')"
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


@dataclass(frozen=True)
class JobRow:
    """A run that submitted something (`batch_jobs`); `identity`: its predictor's identity JSON."""

    job_id: str
    provider: str
    model: str
    identity: str
    owner: str | None
    created_at: float | None = None  # when first recorded (None: not read from the file)


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


_JOB_COLS = "job_id, provider, model, identity, owner, created_at"
_BATCH_COLS = ("uid, job_id, state, owner, input_path, file_id, remote_id, remote_status, "
               "lines, tokens, error, updated_at")
# a line's claim is as old as its job (lines are claimed in the job's first transaction)
_LINE_COLS = ("custom_id, key, first_sample, n, state, l.owner, uid, attempts, error, "
              "(SELECT created_at FROM batch_jobs j WHERE j.job_id = l.job_id)")
# The waiting lines a runner acts on (`Records.lines_to_look_at`): every loop looks at each
# waiting line, and most (planned into a submitted batch, or claimed by it) need nothing.
# An abandoned line needs one once its batch (if any) is no longer at the provider.
_NEEDS_A_LOOK = ("state IN ('done', 'failed') OR (state = 'claimed' AND l.owner IS NOT ?) OR "
                 f"(state = 'planned' AND uid IS NOT NULL AND uid NOT IN {_SUBMITTED_UIDS}) OR "
                 f"(state = 'abandoned' AND (uid IS NULL OR uid NOT IN {_SUBMITTED_UIDS}))")


class Records:
    """The batch tables of one cache file."""

    def __init__(self, cache: SqlCache) -> None:
        self.cache = cache

    def _durable(self) -> AbstractContextManager[sqlite3.Connection]:
        # a record must be on disk before the provider is told anything
        return self.cache.durable_write()

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self.cache.query(sql, args)

    @contextmanager
    def claiming(self) -> Iterator[Claiming]:
        """`with records.claiming() as tx:` — a runner's claim of lines, in one transaction.

        Not durable: nothing is sent for a claim before its batch is recorded (`add_batch`)
        in a `synchronous=FULL` transaction, whose sync puts every earlier commit on disk
        with it. A power cut before then loses claims of lines nobody has sent."""
        with self.cache.write() as c:
            yield Claiming(c)

    # -- jobs -------------------------------------------------------------------------------
    def jobs(self) -> list[JobRow]:
        """Every job, oldest first."""
        return [JobRow(*r) for r in self._read(
            f"SELECT {_JOB_COLS} FROM batch_jobs ORDER BY created_at")]

    def job(self, job_id: str) -> JobRow | None:
        rows = self._read(f"SELECT {_JOB_COLS} FROM batch_jobs WHERE job_id = ?", (job_id,))
        return JobRow(*rows[0]) if rows else None

    def line_counts(self, job_id: str) -> dict[str, int]:
        """The job's lines by state (claimed, planned, done, failed, abandoned)."""
        return dict(self._read("SELECT state, count(*) FROM batch_lines WHERE job_id = ? "
                               "GROUP BY state", (job_id,)))

    def open_lines(self, job_id: str) -> list[tuple[str, int, int, str]]:
        """(key, first_sample, n, prompt_json) of the job's lines not answered yet (abandoned
        ones too: a runner waits for their batch, if it is at the provider, and sends none)."""
        return [tuple(r) for r in self._read(
            "SELECT key, first_sample, n, prompt FROM batch_lines "
            "WHERE job_id = ? AND state IN ('claimed', 'planned', 'abandoned')", (job_id,))]

    def abandon_job(self, job_id: str) -> int:
        """Mark the job's unanswered lines abandoned (no run sends them until `resume_job`)
        and its batches not yet at the provider done; the number of lines abandoned. Lines in
        a batch at the provider keep it: what it answered before its cancel is collected."""
        with self._durable() as c:
            n = c.execute("UPDATE batch_lines SET state = 'abandoned' WHERE job_id = ? AND "
                          "state IN ('claimed', 'planned')", (job_id,)).rowcount
            c.execute("UPDATE batch_batches SET state = 'done', error = 'abandoned', "
                      "updated_at = ? WHERE job_id = ? AND state IN ('planned', 'uploaded')",
                      (time.time(), job_id))
        return int(n)

    def resume_job(self, job_id: str) -> int:
        """Undo `abandon_job` for the lines not answered: those in a batch still at the
        provider wait for it again (resent if it leaves them unanswered), the others are
        claimed by nobody, for the next run or `batch wait` to send. How many lines."""
        with self._durable() as c:
            n = c.execute("UPDATE batch_lines SET state = 'planned' WHERE job_id = ? AND "
                          f"state = 'abandoned' AND uid IN {_SUBMITTED_UIDS}", (job_id,)).rowcount
            n += c.execute("UPDATE batch_lines SET state = 'claimed', owner = NULL, uid = NULL, "
                           "attempts = 0 WHERE job_id = ? AND state = 'abandoned'",
                           (job_id,)).rowcount
        return int(n)

    # -- lines ------------------------------------------------------------------------------
    def _lines_by_id(self, custom_ids: list[str], where: str = "", args: tuple[Any, ...] = ()
                     ) -> list[LineRow]:
        """The lines of `custom_ids` (those matching the SQL condition `where`, if given)."""
        q = (f"SELECT {_LINE_COLS} FROM batch_lines l WHERE custom_id IN "
             f"(SELECT value FROM json_each(?)){f' AND ({where})' if where else ''}")
        out = []
        for chunk in _chunks(custom_ids):
            out += [LineRow(*r) for r in self._read(q, (json.dumps(chunk), *args))]
        return out

    def claimed_lines(self, custom_ids: list[str], owner: str) -> list[LineRow]:
        """Of `custom_ids`, the lines claimed (not planned into a batch) by `owner`."""
        return self._lines_by_id(custom_ids, "state = 'claimed' AND l.owner = ?", (owner,))

    def lines_to_look_at(self, custom_ids: list[str], owner: str) -> list[LineRow]:
        """Of `custom_ids` (lines `owner` waits for), those it must act on: finished ones,
        ones claimed by another runner, ones planned into a batch not submitted yet."""
        return self._lines_by_id(custom_ids, _NEEDS_A_LOOK, (owner,))

    def take_line(self, custom_id: str, owner: str) -> None:
        """Make `owner` the owner of a claimed line whose owner is gone (durably)."""
        with self._durable() as c:
            c.execute("UPDATE batch_lines SET owner = ? WHERE custom_id = ? AND state = 'claimed'",
                      (owner, custom_id))

    def batches_of(self, custom_ids: list[str]) -> set[str]:
        """The batches (uids) holding `custom_ids`: a few queries, no row objects, however
        many lines a job waits for."""
        q = ("SELECT DISTINCT uid FROM batch_lines WHERE custom_id IN (SELECT value FROM "
             "json_each(?)) AND uid IS NOT NULL")
        return {uid for chunk in _chunks(custom_ids) for (uid,) in self._read(q, (json.dumps(chunk),))}

    def line_prompts(self, uid: str) -> list[tuple[str, str, int, int, str, int]]:
        """(custom_id, key, first_sample, n, prompt_json, attempts) of a batch's lines."""
        return [tuple(r) for r in self._read(
            "SELECT custom_id, key, first_sample, n, prompt, attempts FROM batch_lines "
            "WHERE uid = ? AND state IN ('planned', 'abandoned')", (uid,))]

    # -- batches ----------------------------------------------------------------------------
    def batch(self, uid: str) -> BatchRow | None:
        rows = self._read(f"SELECT {_BATCH_COLS} FROM batch_batches WHERE uid = ?", (uid,))
        return BatchRow(*rows[0]) if rows else None

    def batches(self, uids: Iterable[str]) -> list[BatchRow]:
        q = f"SELECT {_BATCH_COLS} FROM batch_batches WHERE uid IN (SELECT value FROM json_each(?))"
        return [BatchRow(*r) for r in self._read(q, (json.dumps(sorted(set(uids))),))]

    def job_batches(self, job_id: str) -> list[BatchRow]:
        return [BatchRow(*r) for r in self._read(
            f"SELECT {_BATCH_COLS} FROM batch_batches WHERE job_id = ? ORDER BY created_at",
            (job_id,))]

    def submitted_tokens(self, owner: str) -> tuple[int, int]:
        """(enqueued tokens, batches) of `owner`'s batches at the provider, not finished."""
        rows = self._read("SELECT coalesce(sum(tokens), 0), count(*) FROM batch_batches "
                          "WHERE owner = ? AND state = 'submitted'", (owner,))
        return int(rows[0][0]), int(rows[0][1])

    def collected_batches(self, provider: str) -> list[BatchRow]:
        """`provider`'s batches whose answers are stored but whose files may be left."""
        return [BatchRow(*r) for r in self._read(
            f"SELECT {_BATCH_COLS} FROM batch_batches WHERE state = 'collected' AND provider = ?",
            (provider,))]

    def uploaded_batches(self, provider: str, model: str) -> list[BatchRow]:
        """Batches of `model` recorded as about to be created (uploaded, no remote id yet)."""
        return [BatchRow(*r) for r in self._read(
            f"SELECT {_BATCH_COLS} FROM batch_batches WHERE provider = ? AND model = ? "
            "AND state = 'uploaded'", (provider, model))]

    def remote_ids(self) -> set[str]:
        """The provider's ids of every batch recorded in this file."""
        return {r[0] for r in self._read(
            "SELECT remote_id FROM batch_batches WHERE remote_id IS NOT NULL")}

    def add_batch(self, job: JobRow, uid: str, input_path: str, lines: int, tokens: int,
                  nbytes: int, custom_ids: list[str]) -> None:
        """Record batch `uid` of `job` (planned, owned by the job's owner) and mark its lines
        planned into it: one durable transaction, before anything is uploaded."""
        now = time.time()
        with self._durable() as c:
            _record_job(c, job)
            c.execute("INSERT INTO batch_batches (uid, job_id, provider, model, state, owner, "
                      "input_path, lines, tokens, bytes, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?, ?)",
                      (uid, job.job_id, job.provider, job.model, job.owner, input_path, lines,
                       tokens, nbytes, now, now))
            for chunk in _chunks(custom_ids):  # one statement per 20,000 lines
                c.execute("UPDATE batch_lines SET state = 'planned', uid = ? WHERE custom_id IN "
                          "(SELECT value FROM json_each(?))", (uid, json.dumps(chunk)))

    def unplan_batch(self, uid: str, owner: str, batch_error: str) -> None:
        """Batch `uid` will not be sent (the provider refused it as too large): its lines go
        back to claimed by `owner`, to be planned into smaller batches; it is done."""
        with self._durable() as c:
            c.execute("UPDATE batch_lines SET state = 'claimed', uid = NULL, owner = ? "
                      "WHERE uid = ? AND state = 'planned'", (owner, uid))
            c.execute("UPDATE batch_batches SET state = 'done', error = ?, updated_at = ? "
                      "WHERE uid = ?", (batch_error, time.time(), uid))

    def fail_lines(self, custom_ids: list[str], owner: str, line_error: str) -> None:
        """Fail lines `owner` claimed and will not send (one too large for any batch) with
        `line_error`; not cached: a rerun checks them again."""
        with self._durable() as c:
            for chunk in _chunks(custom_ids):
                c.execute("UPDATE batch_lines SET state = 'failed', error = ? WHERE custom_id IN "
                          "(SELECT value FROM json_each(?)) AND state = 'claimed' AND owner = ?",
                          (line_error, json.dumps(chunk), owner))

    def fail_batch(self, uid: str, line_error: str, batch_error: str, *,
                   only_submitted: bool = False) -> None:
        """Fail batch `uid`'s waiting lines with `line_error` (not cached: a rerun sends them
        again) and mark it done with `batch_error` (if still submitted, with `only_submitted`)."""
        with self._durable() as c:
            c.execute("UPDATE batch_lines SET state = 'failed', error = ? WHERE uid = ? AND "
                      "state = 'planned'", (line_error, uid))
            c.execute("UPDATE batch_batches SET state = 'done', error = ?, updated_at = ? "
                      "WHERE uid = ?" + (" AND state = 'submitted'" if only_submitted else ""),
                      (batch_error, time.time(), uid))

    def collected(self, uid: str, rows: Iterable[CacheRow], updates: Iterable[LineUpdate],
                  owner: str, remote_status: str | None, error_code: str | None) -> bool:
        """Store a finished batch's `rows` (with their prompts), give each line its next state
        and mark the batch collected: one durable transaction, so a crash leaves either
        nothing (the results are read again) or all of it. False (nothing written) when the
        batch is no longer submitted: another process collected it first."""
        with self._durable() as c:
            state = c.execute("SELECT state FROM batch_batches WHERE uid = ?", (uid,)).fetchone()
            if state is None or state[0] != "submitted":
                return False
            now = time.time()
            insert_rows(c, rows)  # SqlCache.put_many's work, inside this transaction
            # an abandoned line leaves that state only answered: never to be resent
            c.executemany("UPDATE batch_lines SET state = ?, error = ?, attempts = ?, uid = CASE "
                          "WHEN ? = 'claimed' THEN NULL ELSE uid END, owner = ? WHERE custom_id = ? "
                          "AND (state != 'abandoned' OR ? = 'done')",
                          [(st, err, att, st, owner, cid, st) for st, err, att, cid in updates])
            c.execute("UPDATE batch_batches SET state = 'collected', remote_status = ?, error = ?, "
                      "updated_at = ? WHERE uid = ?", (remote_status, error_code, now, uid))
        return True

    def set_batch(self, uid: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._durable() as c:
            c.execute(f"UPDATE batch_batches SET {cols} WHERE uid = ?", (*fields.values(), uid))

    def take_batch(self, uid: str, owner: str, stale_s: float) -> bool:
        """Make `owner` the owner of a batch not yet submitted whose owner is gone."""
        with self._durable() as c:
            row = c.execute("SELECT state, owner, updated_at FROM batch_batches WHERE uid = ?",
                            (uid,)).fetchone()
            if row is None or row[0] not in PRE_SUBMIT_STATES:
                return False
            if row[1] != owner and owner_alive(row[1], row[2], stale_s):
                return False
            c.execute("UPDATE batch_batches SET owner = ?, updated_at = ? WHERE uid = ?",
                      (owner, time.time(), uid))
            return True


class Claiming:
    """What a runner reads and writes while it claims lines: one transaction
    (`Records.claiming()`), so two processes never claim the same samples."""

    def __init__(self, c: sqlite3.Connection) -> None:
        self._c = c

    def live_lines(self, keys: list[str]) -> dict[str, list[LineRow]]:
        """Live lines (claimed / planned) of `keys`, and abandoned ones (which no run may
        send again), with a few queries in all."""
        out: dict[str, list[LineRow]] = {}
        q = (f"SELECT {_LINE_COLS} FROM batch_lines l WHERE key IN "
             "(SELECT value FROM json_each(?)) AND state IN ('claimed', 'planned', 'abandoned')")
        for chunk in _chunks(keys):
            for row in self._c.execute(q, (json.dumps(chunk),)):
                line = LineRow(*row)
                out.setdefault(line.key, []).append(line)
        return out

    def cached_samples(self, keys: list[str]) -> dict[str, set[int]]:
        """The sample indices the cache holds for `keys`."""
        out: dict[str, set[int]] = {}
        q = "SELECT key, sample_index FROM predictions WHERE key IN (SELECT value FROM json_each(?))"
        for chunk in _chunks(keys):
            for key, idx in self._c.execute(q, (json.dumps(chunk),)):
                out.setdefault(key, set()).add(idx)
        return out

    def take_line(self, custom_id: str, owner: str) -> None:
        """Make `owner` the owner of a claimed line (read in this transaction) whose owner is gone."""
        self._c.execute("UPDATE batch_lines SET owner = ? WHERE custom_id = ?", (owner, custom_id))

    def add_lines(self, job: JobRow, lines: Iterable[NewLine]) -> None:
        """Record `job` (once) and claim `lines` for its owner."""
        _record_job(self._c, job)
        self._c.executemany(
            "INSERT INTO batch_lines (custom_id, job_id, key, first_sample, n, prompt, state, "
            "owner) VALUES (?, ?, ?, ?, ?, ?, 'claimed', ?)",
            [(cid, job.job_id, key, first, n, prompt, job.owner) for cid, key, first, n, prompt in lines])


def _record_job(c: sqlite3.Connection, job: JobRow) -> None:
    """The job's row, written by its first transaction (later ones leave it as it is)."""
    c.execute("INSERT OR IGNORE INTO batch_jobs VALUES (?, ?, ?, ?, ?, ?)",
              (job.job_id, job.provider, job.model, job.identity, time.time(), job.owner))


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
