"""The side journal: paid answers the cache file could not take, kept until it can.

    run ─► the cache cannot store (locked past the timeout, disk full, file deleted)
        ─► what arrived goes to `<cache>.journal-<pid>-<id>.jsonl` beside it (one row a line)
           and is handed to the caller; nothing more is sent
    next open of the cache ─► every journal no live writer holds is imported (one
           transaction) and deleted: the rerun pays only for what was never answered

A journal is written under an exclusive `flock` for its writer's life, so an import never
takes a file that is still growing. A line cut short by a crash is skipped (its row was
never complete). Files are private: created 0600, like the cache (`private_file`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from lmwrapper.store.rows import CacheRow

FILE_MODE, DIR_MODE = 0o600, 0o700


def private_dir(path: Path) -> None:
    """`mkdir -p path`, `path` itself created 0700 (its parents as `mkdir -p` makes them;
    existing folders are left as they are)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 if it does not exist (SQLite gives its -wal and -shm
    files the mode of the database file, so they are private too)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def open_private(path: Path, mode: str = "wb", **kwargs: object) -> IO[bytes]:
    """`open(path, mode)` for a new file created 0600 (truncated if it exists)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, FILE_MODE), mode, **kwargs)  # type: ignore[call-overload,no-any-return]


def journal_glob(cache_path: Path) -> str:
    return f"{cache_path.name}.journal-*.jsonl"


class Journal:
    """One run's journal beside `cache_path`, created on the first `write`."""

    def __init__(self, cache_path: Path) -> None:
        self.path = cache_path.with_name(
            f"{cache_path.name}.journal-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl")
        self.rows = 0
        self._fd: int | None = None

    def write(self, rows: Iterable[CacheRow]) -> None:
        """Append `rows`, on disk (fsync) before this returns."""
        data = b"".join(_encode(r) for r in rows)
        if not data:
            return
        if self._fd is None:
            import fcntl  # POSIX only: loaded where a journal is written

            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.write(self._fd, data)
        os.fsync(self._fd)
        self.rows += data.count(b"\n")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock: the next open imports it
            self._fd = None


def _encode(r: CacheRow) -> bytes:
    blob = base64.b64encode(r.blob).decode() if r.blob is not None else None
    return (json.dumps([r.key, r.sample_index, r.provider, r.model, r.is_error, r.value, blob,
                        r.prompt_json], ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _decode(line: bytes) -> CacheRow | None:
    try:
        key, idx, provider, model, is_error, value, blob, prompt = json.loads(line)
    except ValueError:  # cut short by a crash while it was written: never a whole row
        return None
    return CacheRow(key, idx, provider, model, bool(is_error), value,
                    base64.b64decode(blob) if blob is not None else None, prompt)


@contextlib.contextmanager
def finished_journals(cache_path: Path) -> Iterator[list[tuple[Path, list[CacheRow]]]]:
    """The journals beside `cache_path` that no live writer holds, with their rows, each
    locked while the caller imports it; those still there afterwards are deleted."""
    import fcntl  # POSIX only

    taken: list[tuple[Path, int, list[CacheRow]]] = []
    try:
        for path in sorted(cache_path.parent.glob(journal_glob(cache_path))):
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its run is still writing it
                os.close(fd)
                continue
            with os.fdopen(os.dup(fd), "rb") as f:
                rows = [r for line in f if (r := _decode(line)) is not None]
            taken.append((path, fd, rows))
        yield [(p, rows) for p, _, rows in taken]
        for path, _, _ in taken:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        for _, fd, _ in taken:
            os.close(fd)
