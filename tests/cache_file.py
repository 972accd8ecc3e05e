"""The cache file as a user sees it, for tests that check what a run stored without testing
the store itself: its documented name, and what `lmwrapper cache stats --json` and
`lmwrapper cache export -` print (docs/cache.md), run in this process.

    assert cache_stats()["rows"] == 3          # the cache directory the test's conftest set
    texts = [r["prompt"]["text"] for r in exported_rows(tmp_path / "c")]

The store's own tests (rows, keys, claims, migrations) read it from the inside instead; they
are white-box (tests/test_public_surface.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

from lmwrapper import get_cache_dir
from lmwrapper.cli.main import main  # the `lmwrapper` command's entry point (pyproject.toml)

# docs/cache.md: "Every result is stored in one SQLite file, `lmwrapper.sqlite`, in the cache
# directory".
CACHE_FILE = "lmwrapper.sqlite"
_NOTHING = {"rows": 0, "errors": 0, "spent_usd": 0, "models": []}


def cache_path(directory: str | os.PathLike[str] | None = None) -> Path:
    """The cache file of `directory` (default: the cache directory now in force)."""
    return Path(directory if directory is not None else get_cache_dir()) / CACHE_FILE


def _command(directory: str | os.PathLike[str] | None, *args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--cache-dir", str(cache_path(directory).parent), "cache", *args])
    assert code == 0, f"lmwrapper cache {' '.join(args)} exited {code}: {err.getvalue()}"
    return out.getvalue()


def cache_stats(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """`lmwrapper cache stats --json`: rows, errors, models, spend; no file is no rows (the
    command says there is no cache and exits 1 rather than make one)."""
    if not cache_path(directory).exists():
        return dict(_NOTHING)
    return json.loads(_command(directory, "stats", "--json"))


def exported_rows(directory: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """`lmwrapper cache export -`: one dict per cached sample, oldest first (prompt, model,
    prediction); no file is no rows."""
    if not cache_path(directory).exists():
        return []
    return [json.loads(line) for line in _command(directory, "export", "-").splitlines()]
