"""`lmwrapper cache merge SRC... --into DST`: join cache files made by separate jobs.

The cache is the merge point of a sharded run: each task of a job array writes its own
cache file on local disk, the files are merged, and a rerun of the whole dataset against
the merged cache writes the complete, ordered output without sending anything.

Rules, per `(key, sample_index)` row of each source, sources taken in the order given:

    not in DST                        copied
    same value in DST                 nothing to do (a second merge changes nothing)
    good in SRC, an error in DST      the good row replaces the error
    an error in SRC, present in DST   skipped: an error never overwrites a row
    good in both, different values    a conflict: DST's row is kept and the pair reported

Every other table the two files share by name (batch job records) is copied row by row:
rows DST lacks are added, a row whose primary key DST already holds with other values is
counted as a conflict and left alone. Tables DST's schema lacks are skipped and named.
A source whose schema is newer than this lmwrapper (unknown `_migrations`) is refused.

The work is plain SQL over an ATTACHed source, in transactions of `CHUNK_ROWS` rows: a
merge killed half-way keeps whole chunks, and running it again finishes the job.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmwrapper.core.errors import ConfigurationError
from lmwrapper.store.db import CACHE_FILE_NAME, SqlCache
from lmwrapper.store.migrations import MIGRATIONS

CHUNK_ROWS = 20_000
MAX_CONFLICTS_LISTED = 1_000
_OWN_TABLES = {"predictions", "prompts", "_migrations"}
_LIVE_TABLES = {"claims"}  # a running process's holds on its source file: nothing to merge
_SAME_SAMPLE = "d.key = s.key AND d.sample_index = s.sample_index"
_DIFFERS = "(s.value IS NOT d.value OR s.blob IS NOT d.blob)"


class MergeError(ConfigurationError):
    """A source cannot be merged (missing, not a cache, newer schema, the destination itself)."""


@dataclass(frozen=True)
class Conflict:
    """Two good rows for one sample with different values; `kept` stays in the destination."""

    source: str
    key: str
    sample_index: int
    kept: str
    other: str


@dataclass
class MergeReport:
    """What a merge did, counted in rows of the `predictions` table unless named otherwise."""

    dest: str
    sources: list[str] = field(default_factory=list)
    rows_read: int = 0
    added: int = 0
    identical: int = 0
    errors_replaced: int = 0
    errors_skipped: int = 0
    conflict_count: int = 0
    conflicts: list[Conflict] = field(default_factory=list)  # the first MAX_CONFLICTS_LISTED
    table_rows_added: dict[str, int] = field(default_factory=dict)
    table_conflicts: dict[str, int] = field(default_factory=dict)
    skipped_tables: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"merged {len(self.sources)} cache file(s) into {self.dest}",
                 (f"rows read: {self.rows_read}; added {self.added}, already there "
                  f"{self.identical}, error rows replaced by good ones {self.errors_replaced}, "
                  f"error rows skipped {self.errors_skipped}, conflicts {self.conflict_count}")]
        for table, n in sorted(self.table_rows_added.items()):
            extra = self.table_conflicts.get(table, 0)
            lines.append(f"table {table}: {n} rows added"
                         + (f", {extra} conflicting rows kept as in DST" if extra else ""))
        for table, why in sorted(self.skipped_tables.items()):
            lines.append(f"table {table}: skipped ({why})")
        if self.conflict_count:
            lines.append(f"{self.conflict_count} sample(s) have different values in different "
                         "files; the destination's value was kept (see --json for both values)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cache_file(path: str | os.PathLike[str]) -> Path:
    """A cache directory → its `lmwrapper.sqlite`; a file path stays as it is."""
    p = Path(path).expanduser()
    if p.is_dir() or (not p.exists() and p.suffix not in (".sqlite", ".sqlite3", ".db")):
        return p / CACHE_FILE_NAME
    return p


def merge_caches(sources: Sequence[str | os.PathLike[str]], dest: str | os.PathLike[str], *,
                 progress: bool | None = None) -> MergeReport:
    """Merge every source cache (file or directory) into `dest`, created if absent."""
    dest_file = cache_file(dest)
    src_files = [_check_source(cache_file(s), dest_file) for s in sources]
    SqlCache(dest_file).close()  # creates the file, or brings its schema up to date
    report = MergeReport(dest=str(dest_file), sources=[str(s) for s in src_files])
    conn = sqlite3.connect(dest_file, timeout=60.0, isolation_level=None, uri=True)
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        total = sum(_row_count(s) for s in src_files)
        with _progress_bar(progress, total) as bar:
            for src in src_files:
                _merge_one(conn, src, report, bar.update)
    finally:
        conn.close()
    return report


def _check_source(src: Path, dest: Path) -> Path:
    if not src.is_file():
        raise MergeError(f"{src}: no such cache file; pass a cache directory (holding "
                         f"{CACHE_FILE_NAME}) or the .sqlite file itself")
    if dest.exists() and os.path.samefile(src, dest):
        raise MergeError(f"{src} is the destination itself; name it once, after --into")
    try:
        with _read_only(src) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not _OWN_TABLES <= tables:
                raise MergeError(f"{src} is not an lmwrapper cache (no predictions/_migrations "
                                 "tables); check the path")
            applied = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    except sqlite3.DatabaseError as e:
        raise MergeError(f"{src} cannot be read as SQLite ({e}); check the path") from None
    unknown = sorted(applied - {name for name, _ in MIGRATIONS})
    if unknown:
        raise MergeError(f"{src} was written by a newer lmwrapper (schema migrations "
                         f"{', '.join(unknown)} are unknown here); upgrade lmwrapper and merge again")
    return src


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """A connection that cannot change the source (a shard may still be running)."""
    return contextlib.closing(sqlite3.connect(_ro_uri(path), uri=True, timeout=60.0))


def _ro_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def _row_count(src: Path) -> int:
    with _read_only(src) as conn:
        return int(conn.execute("SELECT count(*) FROM predictions").fetchone()[0])


def _merge_one(conn: sqlite3.Connection, src: Path, report: MergeReport,
               advance: Callable[[int], Any]) -> None:
    conn.execute("ATTACH DATABASE ? AS src", (_ro_uri(src),))
    try:
        cols = ", ".join(_common_columns(conn, "predictions", src))
        lo: str | None = ""  # keys are hex digests: every key sorts after ""
        while lo is not None:
            lo = _merge_chunk(conn, src, cols, lo, report, advance)
        for table in _shared_tables(conn, report):
            _merge_table(conn, table, src, report)
    finally:
        conn.execute("DETACH DATABASE src")


def _merge_chunk(conn: sqlite3.Connection, src: Path, cols: str, lo: str,
                 report: MergeReport, advance: Callable[[int], Any]) -> str | None:
    """Merge the source rows with `lo < key <= hi`, one transaction; the next `lo`, or None."""
    row = conn.execute("SELECT key FROM src.predictions WHERE key > ? ORDER BY key "
                       "LIMIT 1 OFFSET ?", (lo, CHUNK_ROWS - 1)).fetchone()
    hi: str | None = row[0] if row else None
    where = "s.key > ?" + (" AND s.key <= ?" if hi is not None else "")
    args: tuple[str, ...] = (lo, hi) if hi is not None else (lo,)
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = _merge_rows(conn, src, cols, where, args, report)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    advance(rows)
    return hi


def _merge_rows(conn: sqlite3.Connection, src: Path, cols: str, where: str,
                args: tuple[str, ...], report: MergeReport) -> int:
    """The rules of the module docstring for the rows `where` selects; returns rows read."""
    def count(sql: str) -> int:
        return int(conn.execute(sql, args).fetchone()[0])

    both = f"FROM src.predictions s JOIN main.predictions d ON {_SAME_SAMPLE} WHERE {where}"
    rows = count(f"SELECT count(*) FROM src.predictions s WHERE {where}")
    conflicts = conn.execute(f"SELECT s.key, s.sample_index, d.value, s.value {both} "
                             f"AND s.is_error = 0 AND d.is_error = 0 AND {_DIFFERS}", args).fetchall()
    skipped = count(f"SELECT count(*) {both} AND s.is_error = 1 AND (d.is_error = 0 OR {_DIFFERS})")
    scols = ", ".join(f"s.{c}" for c in cols.split(", "))
    replaced = conn.execute(f"INSERT OR REPLACE INTO main.predictions ({cols}) SELECT {scols} "
                            f"{both} AND s.is_error = 0 AND d.is_error = 1", args).rowcount
    added = conn.execute(f"INSERT OR IGNORE INTO main.predictions ({cols}) SELECT {scols} "
                         f"FROM src.predictions s WHERE {where}", args).rowcount
    if conn.execute("SELECT 1 FROM src.sqlite_master WHERE name = 'prompts'").fetchone():
        # the rows' prompts, in their transaction (a source older than 0003_prompts has none)
        conn.execute(f"INSERT OR IGNORE INTO main.prompts (key, prompt) SELECT s.key, s.prompt "
                     f"FROM src.prompts s WHERE {where}", args)
    report.rows_read += rows
    report.added += added
    report.errors_replaced += replaced
    report.errors_skipped += skipped
    report.conflict_count += len(conflicts)
    report.identical += rows - added - replaced - skipped - len(conflicts)
    room = MAX_CONFLICTS_LISTED - len(report.conflicts)
    report.conflicts.extend(Conflict(str(src), k, i, kept, other)
                            for k, i, kept, other in conflicts[:max(room, 0)])
    return rows


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[tuple[str, bool]]:
    """(name, required: NOT NULL without a default) per column."""
    info = conn.execute(f'PRAGMA {schema}.table_info("{table}")').fetchall()
    return [(r[1], bool(r[3]) and r[4] is None and not r[5]) for r in info]


def _common_columns(conn: sqlite3.Connection, table: str, src: Path) -> list[str]:
    """The columns both files' `table` has; refuses when DST needs one the source lacks."""
    theirs = {name for name, _ in _columns(conn, "src", table)}
    ours = _columns(conn, "main", table)
    missing = [name for name, required in ours if required and name not in theirs]
    if missing:
        raise MergeError(f"{src}: table {table} lacks the required column(s) "
                         f"{', '.join(missing)}; open it once with this lmwrapper version to "
                         "upgrade it, then merge again")
    return [name for name, _ in ours if name in theirs]


def _shared_tables(conn: sqlite3.Connection, report: MergeReport) -> list[str]:
    def tables(schema: str) -> set[str]:
        return {r[0] for r in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite%'")} - _OWN_TABLES - _LIVE_TABLES

    ours, theirs = tables("main"), tables("src")
    for name in theirs - ours:
        report.skipped_tables[name] = "the destination has no table of that name"
    return sorted(ours & theirs)


def _merge_table(conn: sqlite3.Connection, table: str, src: Path, report: MergeReport) -> None:
    """Rows of `table` DST lacks are added; rows clashing on DST's unique keys are counted."""
    cols = ", ".join(f'"{c}"' for c in _common_columns(conn, table, src))
    new = f'SELECT {cols} FROM src."{table}" EXCEPT SELECT {cols} FROM main."{table}"'
    conn.execute("BEGIN IMMEDIATE")
    try:
        pending = int(conn.execute(f"SELECT count(*) FROM ({new})").fetchone()[0])
        added = conn.execute(f'INSERT OR IGNORE INTO main."{table}" ({cols}) {new}').rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    report.table_rows_added[table] = report.table_rows_added.get(table, 0) + added
    if pending > added:
        report.table_conflicts[table] = report.table_conflicts.get(table, 0) + pending - added


def _progress_bar(progress: bool | None, total: int) -> Any:
    if progress is None:
        env = os.environ.get("LMWRAPPER_PROGRESS")
        progress = env != "0" if env else sys.stderr.isatty()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="merge", unit="row", dynamic_ncols=True, disable=not progress)


# -- the CLI ------------------------------------------------------------------------------


def add_merge_parser(cache_subparsers: Any) -> None:
    """Register `merge` in the `lmwrapper cache` command group."""
    p = cache_subparsers.add_parser(
        "merge", help="merge cache files (e.g. the shards of a job array) into one",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 merged; 1 merged, but some samples had different values (the "
               "destination's were kept, listed with --json); 2 nothing merged (bad source).")
    p.add_argument("sources", nargs="+", metavar="SRC",
                   help="cache directories or .sqlite files, in order of precedence")
    p.add_argument("--into", required=True, metavar="DST",
                   help="the destination cache directory or .sqlite file (created if absent)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=merge_command)


def merge_command(args: argparse.Namespace) -> int:
    try:
        report = merge_caches(args.sources, args.into,
                              progress=False if args.no_progress else None)
    except MergeError as e:
        print(f"lmwrapper cache merge: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 1 if report.conflict_count else 0
