"""What can be wrong with a cache file, found before SQLite touches it, and said plainly.

`header_problem` reads a file's first 100 bytes: not a SQLite database, or truncated (the
header's page count is more than the file holds). `explain` turns a sqlite3 error about the
file into a `CacheFileError` that names the file and what to do next. `lmwrapper.store.db`
uses both when it opens a cache and around every query.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from lmwrapper.core.errors import CacheFileError, CacheLockedError, ConfigurationError

__all__ = ["CacheFileError", "CacheLockedError", "explain", "header_problem"]

ELSEWHERE = ("or use another cache directory (--cache-dir DIR, $LMWRAPPER_CACHE_DIR or "
             "lmwrapper.set_cache_dir(DIR))")
LOCK_TIMEOUT_ENV = "LMWRAPPER_CACHE_LOCK_TIMEOUT"
_DEFAULT_LOCK_TIMEOUT_S = 300.0
_SQLITE_MAGIC = b"SQLite format 3\x00"


def lock_timeout_s() -> float:
    """How long to wait for another process's write lock: `$LMWRAPPER_CACHE_LOCK_TIMEOUT`
    (seconds) or 300. Honest writers hold it for milliseconds; a long wait is a stuck process."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if not raw:
        return _DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigurationError(f"${LOCK_TIMEOUT_ENV} must be a positive number of seconds; "
                                 f"got {raw!r}")
    return value


def header_problem(path: Path) -> str | None:
    """Why `path` cannot be a SQLite database, judged from its header alone (None: it can, or
    it does not exist yet). Reading the header first keeps SQLite from ever touching a file
    that is not a database, and finds a truncated file before a query trips over it."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return "is a directory, not a cache file"
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if not head:
        return None  # SQLite treats an empty file as a new database
    if not (head.startswith(_SQLITE_MAGIC) or _SQLITE_MAGIC.startswith(head)):
        return "is not a SQLite database (its first bytes are not a SQLite header)"
    if len(head) < 100:
        return f"is truncated ({len(head)} bytes, less than a SQLite header)"
    return _truncation(path, head)


def _truncation(path: Path, head: bytes) -> str | None:
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    # The header's page count is trusted by SQLite only when this check value matches.
    if head[24:28] != head[92:96] or not pages:
        return None
    expected, actual = pages * page_size, path.stat().st_size
    wal = Path(f"{path}-wal")
    # With a write-ahead log present the main file can lag its header during a checkpoint.
    if actual < expected and not (wal.exists() and wal.stat().st_size > 0):
        return f"is truncated ({actual} bytes; its header says {expected})"
    return None


def explain(path: Path, e: BaseException) -> CacheFileError:
    """A sqlite3 error about `path` → an error saying which file and what to do next."""
    msg = str(e)
    if "locked" in msg or "busy" in msg:
        return CacheLockedError(
            f"cache file {path} is locked: another process kept it locked for longer than "
            f"{lock_timeout_s():g} s ({msg}). Find it with `fuser {path}` and let it finish or "
            f"stop it, raise ${LOCK_TIMEOUT_ENV} (seconds), {ELSEWHERE}.")
    if "readonly" in msg or "read-only" in msg:
        return CacheFileError(f"cache file {path} cannot be written ({msg}): make it and its "
                              f"directory writable, {ELSEWHERE}.")
    if "full" in msg:
        return CacheFileError(f"cache file {path}: the disk is full ({msg}): free some space, "
                              f"{ELSEWHERE}.")
    if "unable to open" in msg:
        return CacheFileError(f"cache file {path} cannot be opened ({msg}): check that its "
                              f"directory exists and is writable, {ELSEWHERE}.")
    if "disk I/O" in msg:
        return CacheFileError(f"cache file {path} could not be read or written ({msg}): check "
                              f"the disk, move the file aside, {ELSEWHERE}.")
    return CacheFileError(f"cache file {path} is damaged ({msg}): move it aside (e.g. rename it "
                          f"to {path.name}.broken) to start a new cache, {ELSEWHERE}.")


def is_file_error(e: sqlite3.Error) -> bool:
    # OperationalError and the bare DatabaseError ("file is not a database", "malformed") are
    # about the file; IntegrityError, ProgrammingError etc. are bugs in our own SQL.
    return isinstance(e, sqlite3.OperationalError) or type(e) is sqlite3.DatabaseError
