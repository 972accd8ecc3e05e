"""A merge killed with SIGKILL inside a transaction leaves whole chunks; running it again finishes."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import lmwrapper
from lmwrapper.store.db import CacheRow, SqlCache
from lmwrapper.store.merge import cache_file
from lmwrapper.tools.sharding import merge_caches

ROWS, CHUNK = 600, 100

# Merges with small chunks; the third chunk's rows are written, then, before its COMMIT, the
# process says so through a file and waits to be killed.
MERGER = textwrap.dedent("""
    import sys, time
    import lmwrapper.store.merge as cm

    src, dst, marker, chunk = sys.argv[1:5]
    cm.CHUNK_ROWS = int(chunk)
    original, calls = cm._merge_rows, []

    def merge_rows(*args, **kw):
        rows = original(*args, **kw)
        calls.append(rows)
        if len(calls) == 3:
            open(marker, "w").close()
            time.sleep(3600)  # inside the open transaction: killed here
        return rows

    cm._merge_rows = merge_rows
    cm.merge_caches([src], dst, progress=False)
""")


def _source(directory):
    cache = SqlCache(cache_file(directory))
    cache.put_many(CacheRow(f"{i:064x}", 0, "scripted", "m", False, f'{{"t":"a{i}"}}')
                   for i in range(ROWS))
    cache.close()


def _keys(directory):
    db = sqlite3.connect(cache_file(directory))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [k for (k,) in db.execute("SELECT key FROM predictions ORDER BY key")]
    finally:
        db.close()


def test_a_killed_merge_keeps_whole_chunks_and_a_rerun_completes_it(tmp_path):
    _source(tmp_path / "src")
    marker = tmp_path / "in-third-chunk"
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1])}
    child = subprocess.Popen([sys.executable, "-c", MERGER, str(tmp_path / "src"),
                              str(tmp_path / "dst"), str(marker), str(CHUNK)], env=env,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # polling for the child's signal, with a generous deadline
    assert marker.exists(), child.stderr.read() if child.poll() is not None else "no signal"
    child.send_signal(signal.SIGKILL)
    child.wait()

    kept = _keys(tmp_path / "dst")
    assert kept == _keys(tmp_path / "src")[: 2 * CHUNK]  # two committed chunks, not the third
    report = merge_caches([tmp_path / "src"], tmp_path / "dst", progress=False)
    assert (report.added, report.identical) == (ROWS - 2 * CHUNK, 2 * CHUNK)
    assert _keys(tmp_path / "dst") == _keys(tmp_path / "src")
