"""The batch tables' migration (registered in `sqlcache.MIGRATIONS`; see `records.py`).

A leaf module: `sqlcache` imports it, and it imports nothing of lmwrapper.
"""

from __future__ import annotations

from typing import Any


def m0002_batch_jobs(db: Any) -> None:
    """The named migration registered in `sqlcache.MIGRATIONS`."""
    db.execute("""CREATE TABLE batch_jobs (
        job_id TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL,
        identity TEXT NOT NULL, created_at REAL NOT NULL, owner TEXT)""")
    db.execute("""CREATE TABLE batch_batches (
        uid TEXT PRIMARY KEY, job_id TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
        state TEXT NOT NULL, owner TEXT, input_path TEXT, file_id TEXT, remote_id TEXT,
        remote_status TEXT, lines INTEGER NOT NULL, tokens INTEGER NOT NULL, bytes INTEGER NOT NULL,
        error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)""")
    db.execute("CREATE INDEX batch_batches_job ON batch_batches(job_id)")
    db.execute("""CREATE TABLE batch_lines (
        custom_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, key TEXT NOT NULL,
        first_sample INTEGER NOT NULL, n INTEGER NOT NULL, prompt TEXT NOT NULL,
        uid TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT,
        error TEXT)""")
    db.execute("CREATE INDEX batch_lines_key ON batch_lines(key)")
    db.execute("CREATE INDEX batch_lines_uid ON batch_lines(uid)")
    db.execute("CREATE INDEX batch_lines_job ON batch_lines(job_id, state)")
