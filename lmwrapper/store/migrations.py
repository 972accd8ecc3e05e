"""The cache file's schema: named migrations that only grow (`MIGRATIONS`).

`_migrations` records the names applied to a file; `apply` runs the others, in list order,
inside the caller's `BEGIN IMMEDIATE` transaction, so concurrent openers apply each once.
A name, once released, is never changed or removed: a file written by any version opens.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any


# Each migration gets a sqlite_utils.Database inside the open BEGIN IMMEDIATE transaction
# (sqlite-utils nests its own work as savepoints), so concurrent openers apply it once.
def _m0001_predictions(db: Any) -> None:
    # WITHOUT ROWID: a lookup by (key, sample_index) is one b-tree search, not two; it halves
    # the cost of serving cached predictions. sqlite-utils' create() cannot say that.
    db.execute(
        """CREATE TABLE predictions (
            key TEXT NOT NULL,
            sample_index INTEGER NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            created_at REAL NOT NULL,
            is_error INTEGER NOT NULL DEFAULT 0,
            value TEXT NOT NULL,
            blob BLOB,
            PRIMARY KEY (key, sample_index)
        ) WITHOUT ROWID"""
    )
    db["predictions"].create_index(["created_at"])
    db["predictions"].create_index(["model"])


def m0002_batch_jobs(db: Any) -> None:
    """The batch engine's tables (see `lmwrapper.store.batch_records`)."""
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


# 0003, not 0002: the batch engine's `0002_batch_jobs` comes first. Names, not numbers, are
# what `_migrations` records, so the order of merging the two does not matter to a file.
def _m0003_prompts(db: Any) -> None:
    # One row per key, not per sample: the prompt is what the key was hashed from, so a key
    # never needs a second prompt. Rows written before this migration simply have none.
    db.execute("CREATE TABLE prompts (key TEXT PRIMARY KEY, prompt TEXT NOT NULL) WITHOUT ROWID")


def _m0004_claims(db: Any) -> None:
    # A live run's hold on a key it is about to send (lmwrapper.store.claims): another process on
    # this file waits for that key's answer instead of paying for it a second time.
    db.execute("CREATE TABLE claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
               "expires REAL NOT NULL) WITHOUT ROWID")
    db.execute("CREATE INDEX claims_owner ON claims (owner)")


def _m0005_background_responses(db: Any) -> None:
    # A background response (OpenAI's Responses `background: true`), recorded before it is
    # created and given its id right after (lmwrapper.store.background_records), so a rerun
    # after a crash polls it instead of paying for it again.
    db.execute("""CREATE TABLE background_responses (
        marker TEXT PRIMARY KEY, key TEXT NOT NULL, first_sample INTEGER NOT NULL,
        n INTEGER NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, window TEXT NOT NULL,
        response_id TEXT, state TEXT NOT NULL, created_at REAL NOT NULL,
        updated_at REAL NOT NULL)""")
    db.execute("CREATE INDEX background_responses_key ON background_responses(key)")


MIGRATIONS: list[tuple[str, Callable[[Any], None]]] = [
    ("0001_predictions", _m0001_predictions),
    ("0002_batch_jobs", m0002_batch_jobs),
    ("0003_prompts", _m0003_prompts),
    ("0004_claims", _m0004_claims),
    ("0005_background_responses", _m0005_background_responses),
]


def applied(c: sqlite3.Connection) -> set[str]:
    """The migrations recorded in a file that has a `_migrations` table."""
    return {r[0] for r in c.execute("SELECT name FROM _migrations")}


def pending(c: sqlite3.Connection) -> list[str]:
    """The migrations `c`'s file lacks (all of them for a new file), read without a lock."""
    try:
        done = applied(c)
    except sqlite3.OperationalError:  # no _migrations table yet
        done = set()
    return [name for name, _ in MIGRATIONS if name not in done]


def apply(c: sqlite3.Connection) -> None:
    """Apply the migrations `c`'s file lacks, inside the caller's write transaction."""
    todo = pending(c)
    if not todo:  # the usual open: sqlite-utils (0.4 s to import, numpy with it) not needed
        return
    import sqlite_utils  # 0.4 s to import: only when a migration runs

    c.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    db = sqlite_utils.Database(c)
    for name, migrate in MIGRATIONS:
        if name in todo:
            migrate(db)
            c.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
