"""lmwrapper 0.18's cache-directory functions, over the SQLite cache (`lmwrapper.store.db`).

    from lmwrapper.compat018.caching import set_cache_dir, cache_dir, clear_cache_dir
    set_cache_dir(Path("~/lm-cache").expanduser())

As in 0.18, `set_cache_dir` refuses a folder that looks like source code (it holds .py,
.txt or .md files) and creates the folder. Unlike 0.18 it also affects predictors already
built whose cache has not been opened yet (they open it on first use). `clear_cache_dir`
deletes every cached prediction in the cache file but leaves the folder and any other
files in it (0.18 deleted the whole folder).
"""

from __future__ import annotations

import os
from pathlib import Path

from lmwrapper.compat018 import hooks as compat
from lmwrapper.store import db as sqlcache

_SOURCE_SUFFIXES = (".py", ".txt", ".md")


def set_cache_dir(path: str | os.PathLike[str], size_limit: int | None = None) -> None:
    """Cache predictions in `path` from now on (created if missing).

    `size_limit` (0.18) is accepted and ignored: the cache does not evict; use
    `lmwrapper cache clear --older-than DAYS` to shrink it.
    """
    path = Path(path).expanduser()
    if path.exists():
        _verify_looks_like_cache_dir(path)
    path.mkdir(parents=True, exist_ok=True)
    if size_limit is not None:
        compat.warn("set_cache_dir(size_limit=...) is ignored: the lmwrapper cache does not "
                    "evict; shrink it with `lmwrapper cache clear --older-than DAYS`.")
    sqlcache.set_cache_dir(path)


def _verify_looks_like_cache_dir(path: Path) -> None:
    for f in path.rglob("*"):
        if f.suffix in _SOURCE_SUFFIXES and f.is_file():
            raise ValueError(
                f"set_cache_dir({str(path)!r}): this looks like a source folder (it holds {f.name}); "
                "use a folder of its own for the cache, e.g. a 'cache' subfolder.")


def cache_dir() -> Path:
    """The folder predictions are cached in (see `lmwrapper.store.db.get_cache_dir`)."""
    return sqlcache.get_cache_dir()


def clear_cache_dir() -> int:
    """Delete every cached prediction in `cache_dir()`; returns how many rows went."""
    return compat.clear_cache(cache_dir())


__all__ = ["cache_dir", "clear_cache_dir", "set_cache_dir"]
