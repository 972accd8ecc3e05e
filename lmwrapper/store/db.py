"""The on-disk cache: one SQLite file, shared safely by threads and processes.

A row is one sample of one prompt: `(key, sample_index)` → the prediction as JSON, plus an
optional blob (model internals as an .npz without pickle). The key is the sha256 of the
prompt's canonical JSON, the model's identity and `KEY_SCHEMA_VERSION` (`store/keys.py`); a
row's columns and how a prediction becomes one are `store/rows.py`'s.

WAL journaling, a busy timeout and `BEGIN IMMEDIATE` writes let several processes share one
file without "database is locked"; every write is one transaction, so a process killed at
any moment leaves only whole rows behind. The schema only grows, by the named migrations in
`store/migrations.py`.

A file that is not a cache of ours is never changed: opening checks its header (a SQLite
database, complete) and its tables (empty, or ours) before anything is written, and every
failure of the file (damaged, foreign, locked, unwritable) is a `CacheFileError` that names
the file and the fix.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmwrapper.store import migrations
from lmwrapper.store.cache_file import (
    ELSEWHERE,
    LOCK_TIMEOUT_ENV,
    CacheFileError,
    CacheLockedError,  # noqa: F401  re-exported: callers catch it from here
    explain,
    header_problem,
    is_file_error,
    lock_timeout_s,
)
from lmwrapper.store.fsinfo import warn_if_network_fs
from lmwrapper.store.journal import finished_journals, private_dir, private_file

# The names below lived here before keys.py, rows.py and migrations.py took them: imported
# from here by code and scripts written before (`lmwrapper.sqlcache` re-exports this module).
from lmwrapper.store.keys import (  # noqa: F401
    KEY_SCHEMA_VERSION,
    canonical_json,
    identity_json,
    key_of,
    prompt_json,
    prompt_key,
)
from lmwrapper.store.migrations import MIGRATIONS
from lmwrapper.store.rows import CacheRow, exported

CACHE_FILE_NAME = "lmwrapper.sqlite"
# The one bulk lookup: keys sorted, 20,000 per statement, handed over as one JSON array (one
# bound value, whatever the count; SQLite turns it into an index and walks both in order).
# Linear in the keys: one statement per 20,000 and one row read per stored sample
# (`tests/test_cache_lookup_scaling.py` counts them). Measured against `IN (?, ?, ...)` and a
# temporary table joined: the same speed or slower (the temporary table: 1.5-3x slower).
_LOOKUP_CHUNK = 20_000
# SQLite's own wait per attempt at the lock: past it a writer is told (`on_wait`), so a run
# stops sending while the file is locked. Honest writers hold the lock for milliseconds:
# a longer wait pauses sending briefly, while every answer that arrives is held.
_FIRST_WAIT_S = 0.05

# Each row comes with its key's place in the array (`json_each.key`), not the key itself:
# the caller's own key string is kept, where 64 characters read back from SQLite made a new
# one per row (1,000,000 rows: 0.3 s and 110 MB less).
_LOOKUP = ("SELECT j.key, p.sample_index, p.value, p.blob, p.is_error FROM json_each(?) AS j "
           "JOIN predictions AS p ON p.key = j.value")
# What a key may hold to be written into the JSON array as it is (a sha256 in hex, or a
# name in a test): anything else, a quote or a backslash say, goes through json.dumps.
_PLAIN_KEY_BYTES = bytes(range(48, 58)) + bytes(range(65, 91)) + bytes(range(97, 123)) + b"_-.:,"

_cache_dir_override: Path | None = None


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    """Use `path` as the cache directory from now on (None: back to the default order)."""
    global _cache_dir_override
    _cache_dir_override = Path(path) if path is not None else None


def get_cache_dir() -> Path:
    """`set_cache_dir()`, else `$LMWRAPPER_CACHE_DIR`, else `cache/` in the project root.

    The project root is the nearest ancestor of the working directory holding `.git` or
    `pyproject.toml`, else the working directory itself.
    """
    if _cache_dir_override is not None:
        return _cache_dir_override
    if os.environ.get("LMWRAPPER_CACHE_DIR"):
        return Path(os.environ["LMWRAPPER_CACHE_DIR"])
    cwd = Path.cwd()
    for d in (cwd, *cwd.parents):
        if (d / ".git").exists() or (d / "pyproject.toml").exists():
            return d / "cache"
    return cwd / "cache"


def _model_filter(where: list[str], args: list[Any], table: str, model: str | None,
                  provider: str | None) -> None:
    """The conditions for rows of `model` of `provider` (either None: any), added to a query."""
    for column, value in (("model", model), ("provider", provider)):
        if value is not None:
            where.append(f"{table}{column} = ?")
            args.append(value)


def insert_rows(c: sqlite3.Connection, rows: Iterable[CacheRow]) -> None:
    """`rows` and their prompts, inside the caller's write transaction.

    In key order: keys are hashes, so rows arriving in any other order land on random pages
    of the clustered (`WITHOUT ROWID`) tables, and each insert splits or rewrites a different
    page; in order, neighbours share pages (~15 % of a cold run's CPU). The sort is stable,
    so of two rows for one sample the later still replaces the earlier.
    """
    rows = list(rows)
    now = time.time()
    data = [(r.key, r.sample_index, r.provider, r.model, now, int(r.is_error), r.value, r.blob)
            for r in rows]
    if not data:
        return
    data.sort(key=_ROW_ORDER)
    c.executemany("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", data)
    # The key is the hash of the prompt: a stored prompt is already the right one.
    prompts = {r.key: r.prompt_json for r in rows if r.prompt_json is not None}
    c.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", sorted(prompts.items()))


_ROW_ORDER = operator.itemgetter(0, 1)  # (key, sample_index)


class SqlCache:
    """A cache file. Safe to share across threads (one locked connection) and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._lock_timeout = lock_timeout_s()
        # Past this much waiting we tell the user which file we wait for.
        self._note_after = min(10.0, self._lock_timeout / 4)
        self._noted_lock = False
        # a thread of ours (it holds `_lock`) is waiting for the file's lock, which another
        # process holds: a writer kept out of `_lock` meanwhile pauses sending too (`_WriteTxn`)
        self._file_waiting = False
        self.read_only = False  # opened `mode=ro`: the file cannot be written, reads serve
        problem = header_problem(self.path)
        if problem:
            raise CacheFileError(f"cache file {self.path} {problem}; lmwrapper left it untouched. "
                                 f"Move it aside to start a new cache there, {ELSEWHERE}.")
        try:
            private_dir(self.path.parent)
            if not self.path.exists():
                private_file(self.path)  # 0600: a shared node's other users cannot read it
        except OSError as e:
            raise CacheFileError(f"cache directory {self.path.parent} cannot be created "
                                 f"({e.strerror}); {ELSEWHERE}.") from None
        warn_if_network_fs(self.path)  # SQLite's locks are not safe on NFS & co.
        self._identity = _file_identity(self.path)  # the file this connection writes
        with self._named_errors():
            self._conn = self._connect(self.path)
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise
        if not self.read_only:
            self._import_journals()

    def _connect(self, target: str | Path, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=min(_FIRST_WAIT_S, self._note_after),
                               isolation_level=None, check_same_thread=False, uri=uri)

    def _open(self) -> None:
        try:
            with self._named_errors():
                self._check_ours(self._conn)  # before WAL: switching to it rewrites the header
                self._wait_for_lock(lambda: self._conn.execute("PRAGMA journal_mode = WAL"))
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
        except CacheFileError as e:
            if not _is_read_only(e.__cause__):
                raise
            self._open_read_only(e)

    def _open_read_only(self, refused: CacheFileError) -> None:
        """A file we may not write: opened `mode=ro`, to serve what it holds. Writing to it
        (a prompt it does not answer) fails then with `refused`'s clear error."""
        self._conn.close()
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with self._named_errors():
            self._conn = self._connect(uri, uri=True)
            try:
                self._check_ours(self._conn)
            except sqlite3.OperationalError as e:
                if not _is_read_only(e):
                    raise
                # WAL without its -shm file, in a folder we cannot write: SQLite can read it
                # only as immutable (it then assumes nobody else writes it meanwhile)
                self._conn.close()
                self._conn = self._connect(uri + "&immutable=1", uri=True)
                self._check_ours(self._conn)
            if not {name for name, _ in MIGRATIONS} <= migrations.applied(self._conn):
                raise refused  # an older schema: its rows cannot be read as ours
        self.read_only = True
        self._refused = refused

    def _import_journals(self) -> None:
        """Store the answers earlier runs could not (`store/journal.py`), then drop their
        journals: before any lookup, so a rerun does not pay for them again."""
        with finished_journals(self.path) as journals:
            for path, rows in journals:
                self.put_many(rows)
                print(f"lmwrapper: imported {len(rows)} answers kept in {path.name} into cache "
                      f"file {self.path}", file=sys.stderr)

    def replaced(self) -> bool:
        """Whether the file at `path` is no longer the one this connection writes: deleted,
        or replaced by another (what is written then reaches no file anyone will open)."""
        return _file_identity(self.path) != self._identity

    def rows_since(self, t: float) -> list[CacheRow]:
        """Every row stored at or after `t` (time.time()), with its prompt."""
        with self._lock, self._named_errors():
            found = self._conn.execute(
                "SELECT d.key, d.sample_index, d.provider, d.model, d.is_error, d.value, d.blob, "
                "p.prompt FROM predictions d LEFT JOIN prompts p ON p.key = d.key "
                "WHERE d.created_at >= ?", (t,)).fetchall()
        return [CacheRow(k, i, pr, m, bool(e), v, b, pj) for k, i, pr, m, e, v, b, pj in found]

    def _check_ours(self, c: sqlite3.Connection) -> None:
        """Refuse a SQLite database that holds someone else's tables (an empty one is new)."""
        tables = sorted(r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
        if not tables:
            return
        if "_migrations" in tables and "predictions" in tables:
            try:
                applied = migrations.applied(c)
            except sqlite3.OperationalError:  # a _migrations table of another shape
                applied = set()
            if applied & {name for name, _ in MIGRATIONS}:
                return
        shown = ", ".join(tables[:6]) + (", ..." if len(tables) > 6 else "")
        raise CacheFileError(
            f"cache file {self.path} is a SQLite database of another program (tables: {shown}), "
            f"not an lmwrapper cache; lmwrapper left it untouched. Move it elsewhere, {ELSEWHERE}.")

    def _migrate(self) -> None:
        if migrations.pending(self._conn):  # a file up to date (the usual) needs no sqlite-utils
            import sqlite_utils  # noqa: F401  0.4 s to import: loaded before the lock is taken

        # Always one write transaction, even with nothing to migrate: a file that another
        # process keeps locked is found here, before a run spends anything.
        with self.write() as c:
            self._check_ours(c)  # again under the lock: another program may have been first
            migrations.apply(c)

    @contextmanager
    def _named_errors(self) -> Iterator[None]:
        """Turn sqlite3's errors about the file into a `CacheFileError` naming it."""
        try:
            yield
        except sqlite3.Error as e:
            if not is_file_error(e):
                raise
            raise explain(self.path, e) from e

    def _wait_for_lock(self, attempt: Callable[[], Any],
                       on_wait: Callable[[], None] | None = None) -> Any:
        """Run `attempt` until no other process holds the lock it needs, up to the lock timeout.

        SQLite waits up to `_FIRST_WAIT_S` per try; some paths (switching to WAL) report
        "busy" at once instead, hence the short pause. After the first failed try `on_wait`
        is called (a run stops sending); after `_note_after` we say which file is locked, so
        a stuck process can be found; the final error names it too.
        """
        started = time.monotonic()
        deadline = started + self._lock_timeout
        pause = 0.01
        try:
            while True:
                try:
                    return attempt()
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) and "busy" not in str(e):
                        raise
                    if time.monotonic() >= deadline:
                        raise
                    self._file_waiting = True
                    if on_wait is not None:
                        on_wait()
                        on_wait = None
                    if time.monotonic() - started >= self._note_after * 0.9:
                        self._note_lock_wait()
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
        finally:
            self._file_waiting = False

    def _note_lock_wait(self) -> None:
        if self._noted_lock:
            return
        self._noted_lock = True
        print(f"lmwrapper: waiting for the lock on cache file {self.path}: another process is "
              f"writing to it or keeps it locked (`fuser {self.path}` shows which); giving up "
              f"after {self._lock_timeout:g} s (${LOCK_TIMEOUT_ENV}).", file=sys.stderr)

    def write(self, on_wait: Callable[[], None] | None = None) -> _WriteTxn:
        """`with cache.write() as conn:` — one BEGIN IMMEDIATE transaction, under the lock.

        `on_wait()` is called once if the lock is not free within `_FIRST_WAIT_S` (another process
        holds it, or another thread of ours waits for it)."""
        if self.read_only:
            raise self._refused
        return _WriteTxn(self, on_wait)

    @contextmanager
    def durable_write(self) -> Iterator[sqlite3.Connection]:
        """`write()` committed with `synchronous=FULL`: on disk before we go on (a batch
        record must survive a power cut before the provider is told anything)."""
        with self._lock:  # re-entrant: write() takes it again
            self._conn.execute("PRAGMA synchronous = FULL")  # cannot change inside a transaction
            try:
                with self.write() as c:
                    yield c
            finally:
                self._conn.execute("PRAGMA synchronous = NORMAL")

    def max_value_bytes(self) -> int:
        """The most bytes one string, blob or row may have in this file's connection: SQLite's
        SQLITE_LIMIT_LENGTH (by default 1,000,000,000; https://www.sqlite.org/limits.html).
        A longer value fails to store ("string or blob too big")."""
        with self._lock:
            return self._conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH)

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read statement, under the lock (for the store's own modules).
        A read may find the file busy too (another process checkpointing the write-ahead
        log): it waits as a write does, up to the lock timeout."""
        values = tuple(args)
        with self._lock, self._named_errors():
            rows: list[tuple[Any, ...]] = self._wait_for_lock(
                lambda: self._conn.execute(sql, values).fetchall())
            return rows

    def get_many(self, keys: Sequence[str]
                 ) -> dict[str, tuple[tuple[int, str, bytes | None, bool], ...]]:
        """Rows for `keys`: key → ((sample_index, value_json, blob, is_error), ...), a few
        queries in all.

        Tuples, not lists: a tuple of plain values is dropped from the collector's watch at
        its first pass, so a million of them held during a run cost no full collection."""
        ordered = sorted(keys)  # walks the b-tree in order: ~25 % faster than input order
        with self._lock, self._named_errors():  # busy (a checkpoint): read again, as `query`
            found: dict[str, tuple[tuple[int, str, bytes | None, bool], ...]] = \
                self._wait_for_lock(lambda: self._look_up(ordered))
        return found

    def _look_up(self, ordered: list[str]
                 ) -> dict[str, tuple[tuple[int, str, bytes | None, bool], ...]]:
        found: dict[str, tuple[tuple[int, str, bytes | None, bool], ...]] = {}
        get = found.get
        for start in range(0, len(ordered), _LOOKUP_CHUNK):
            chunk = ordered[start : start + _LOOKUP_CHUNK]
            for i, idx, value, blob, is_error in self._conn.execute(_LOOKUP, (_json_array(chunk),)):
                key = chunk[i]
                if (i or start) and ordered[start + i - 1] == key:
                    continue  # a key given twice (sorted: next to itself) has its rows once
                rows = get(key)
                row = (idx, value, blob, is_error != 0)
                found[key] = (row,) if rows is None else (*rows, row)  # samples: a few
        return found

    def put_many(self, rows: Iterable[CacheRow], on_wait: Callable[[], None] | None = None) -> None:
        """Store `rows` and their prompts in one transaction: a row is never without its prompt.
        `on_wait`: as in `write`."""
        rows = list(rows)
        if not rows:
            return
        with self._named_errors(), self.write(on_wait) as c:
            insert_rows(c, rows)

    def delete_key(self, key: str) -> int:
        """Delete every sample stored under `key`; returns how many rows."""
        with self.write() as c:
            return c.execute("DELETE FROM predictions WHERE key = ?", (key,)).rowcount

    def stats(self) -> dict[str, Any]:
        """Rows, errors, bytes on disk, and per model: rows, dates and `spent_usd` (the sum of
        its rows' `cost_usd`: what making the cached answers cost). A busy file (another
        process checkpointing) is waited for, as in `query`."""
        with self._lock:  # both reads, with no write of this process between them
            [(total, errors)] = self.query(
                "SELECT count(*), coalesce(sum(is_error), 0) FROM predictions")
            by_model = self.query(
                "SELECT provider, model, count(*), min(created_at), max(created_at), "
                "coalesce(sum(is_error), 0), coalesce(sum(json_extract(value, '$.cost_usd')), 0) "
                "FROM predictions GROUP BY provider, model ORDER BY count(*) DESC")
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        models = [{"provider": p, "model": m, "rows": n, "oldest": lo, "newest": hi, "errors": e,
                   "spent_usd": usd} for p, m, n, lo, hi, e, usd in by_model]
        return {"path": str(self.path), "rows": total, "errors": errors, "bytes": size,
                "spent_usd": sum(m["spent_usd"] for m in models), "models": models}

    def clear(self, *, older_than_days: float | None = None, model: str | None = None,
              errors_only: bool = False, provider: str | None = None) -> int:
        """Delete rows (all, or those matching every filter given); returns how many.

        `older_than_days` must be a finite number >= 0 (a negative age would reach into the
        future and delete everything); `model` is a model name (of `provider`, when given: an
        `hf/` model may share its name with an API one); `errors_only` keeps answers.
        """
        where: list[str] = []
        args: list[Any] = []
        if older_than_days is not None:
            if not 0 <= older_than_days < float("inf"):
                raise ValueError(f"older_than_days must be a number of days >= 0; "
                                 f"got {older_than_days!r}")
            where.append("created_at < ?")
            args.append(time.time() - older_than_days * 86400)
        _model_filter(where, args, "", model, provider)
        if errors_only:
            where.append("is_error = 1")
        sql = "DELETE FROM predictions" + (" WHERE " + " AND ".join(where) if where else "")
        with self._named_errors(), self.write() as c:
            return c.execute(sql, args).rowcount

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """Every row, oldest first, with its prompt (None for rows stored before prompts were)."""
        yield from self._records(self._select("", [], "ORDER BY d.created_at"))

    def recent_rows(self, *, n: int = 3, model: str | None = None, search: str | None = None,
                    errors_only: bool = False, provider: str | None = None
                    ) -> list[dict[str, Any]]:
        """The `n` newest rows (newest first) of `model` (a name), whose prompt or answer
        contains `search` (case-insensitive for ASCII), only errors if `errors_only`."""
        where: list[str] = []
        args: list[Any] = []
        _model_filter(where, args, "d.", model, provider)
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            # the texts only: the JSON around them ("max_tokens", ...) would match everything
            where.append("(json_extract(p.prompt, '$.text') LIKE ? ESCAPE '\\' OR "
                         "json_extract(d.value, '$.completion_text') LIKE ? ESCAPE '\\' OR "
                         "json_extract(d.value, '$.error_message') LIKE ? ESCAPE '\\')")
            args += [pattern] * 3
        if errors_only:
            where.append("d.is_error = 1")
        rows = self._select(" AND ".join(where), args, "ORDER BY d.created_at DESC LIMIT ?", [n])
        return list(self._records(rows))

    def _select(self, where: str, args: list[Any], tail: str, tail_args: Sequence[Any] = ()
                ) -> list[tuple[Any, ...]]:
        sql = ("SELECT d.key, d.sample_index, d.provider, d.model, d.created_at, d.is_error, "
               "d.value, d.blob IS NOT NULL, p.prompt FROM predictions d "
               "LEFT JOIN prompts p ON p.key = d.key "
               + (f"WHERE {where} " if where else "") + tail)
        with self._lock, self._named_errors():
            return self._conn.execute(sql, [*args, *tail_args]).fetchall()

    @staticmethod
    def _records(rows: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
        for key, idx, provider, model, created, is_error, value, has_blob, prompt in rows:
            yield {"key": key, "sample_index": idx, "provider": provider, "model": model,
                   "created_at": created, "is_error": bool(is_error),
                   "has_internals": bool(has_blob),
                   "prompt": json.loads(prompt) if prompt is not None else None,
                   "prediction": exported(value, provider, model)}

    def integrity_check(self) -> str:
        with self._lock, self._named_errors():
            verdict: str = self._conn.execute("PRAGMA integrity_check").fetchone()[0]
            return verdict

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _WriteTxn:
    def __init__(self, cache: SqlCache, on_wait: Callable[[], None] | None = None) -> None:
        self.cache = cache
        self.on_wait = on_wait

    def __enter__(self) -> sqlite3.Connection:
        cache, on_wait = self.cache, self.on_wait
        # Another thread of ours holds `_lock`: a long write of this process (a lease
        # released, thousands of claims deleted), which is no reason to stop sending; or a
        # thread waiting for the file's lock that another process holds (a claim renewal),
        # which is: then `on_wait`, as if this writer waited for the file itself.
        while not cache._lock.acquire(timeout=_FIRST_WAIT_S if on_wait else -1):
            if on_wait is not None and cache._file_waiting:
                on_wait()
                on_wait = None
        try:
            with cache._named_errors():
                cache._wait_for_lock(lambda: cache._conn.execute("BEGIN IMMEDIATE"), on_wait)
        except BaseException:
            cache._lock.release()
            raise
        return cache._conn

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        cache = self.cache
        try:
            with cache._named_errors():
                cache._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            cache._lock.release()
        if exc_type is None and cache.replaced():
            raise CacheFileError(
                f"cache file {cache.path} was deleted or replaced by another file while this "
                f"process wrote to it: what it wrote since reached no file. Keep cache files "
                f"in place while a run uses them, {ELSEWHERE}.")


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _is_read_only(e: BaseException | None) -> bool:
    return isinstance(e, sqlite3.OperationalError) and "readonly" in str(e)


_open_caches: dict[Path, SqlCache] = {}
_open_lock = threading.Lock()


def get_cache(directory: str | os.PathLike[str] | None = None) -> SqlCache:
    """The (per-process, shared) cache in `directory`, default `get_cache_dir()`."""
    path = (Path(directory) if directory is not None else get_cache_dir()) / CACHE_FILE_NAME
    path = path.resolve()
    with _open_lock:
        if path not in _open_caches or _open_caches[path].replaced():
            _open_caches[path] = SqlCache(path)  # a replaced file: the one now at `path`
        return _open_caches[path]


def _json_array(keys: list[str]) -> str:
    """`json.dumps(keys)`: keys of plain characters (every sha256 key) written as they are,
    a tenth of json.dumps's time; any other goes through json.dumps."""
    joined = '","'.join(keys)
    try:
        rest = joined.encode("ascii").translate(None, _PLAIN_KEY_BYTES)
    except UnicodeEncodeError:
        return json.dumps(keys)
    if len(rest) != 2 * max(len(keys) - 1, 0):  # only the quotes between keys are left
        return json.dumps(keys)
    return f'["{joined}"]' if keys else "[]"
