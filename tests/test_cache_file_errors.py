"""A cache file that is damaged, foreign or locked: a clear error naming it, the file untouched.

Every file here is real: a SQLite database built by our own cache and then truncated or
overwritten, another program's database, a text file, a lock held by another process.
"""

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from lmwrapper import CacheFileError, CacheLockedError, ConfigurationError
from lmwrapper.store.db import CACHE_FILE_NAME, CacheRow, SqlCache


def filled_cache(path, rows=400):
    """A real cache file with `rows` rows (many pages), closed so no WAL is left behind."""
    cache = SqlCache(path)
    cache.put_many(CacheRow(f"k{i}", 0, "scripted", "m", False, '{"completion_text": "%s"}' % ("x" * 200))
                   for i in range(rows))
    cache.close()
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0
    return path


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def assert_names_file_and_fix(message, path):
    assert str(path) in message
    assert "LMWRAPPER_CACHE_DIR" in message and "--cache-dir" in message


def test_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / CACHE_FILE_NAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    db.execute("INSERT INTO invoices VALUES (1, 9.5)")
    db.commit()
    db.close()
    before = digest(path)
    with pytest.raises(CacheFileError, match="another program") as e:
        SqlCache(path)
    assert_names_file_and_fix(str(e.value), path)
    assert "invoices" in str(e.value)
    assert digest(path) == before  # no tables of ours, not even switched to WAL
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["invoices"]


def test_a_text_file_is_not_a_database(tmp_path):
    path = tmp_path / CACHE_FILE_NAME
    path.write_text("these are my notes, not a cache\n" * 20)
    before = digest(path)
    with pytest.raises(CacheFileError, match="not a SQLite database") as e:
        SqlCache(path)
    assert_names_file_and_fix(str(e.value), path)
    assert digest(path) == before


@pytest.mark.parametrize("keep", [0.5, 50 / 1e9])
def test_truncated_cache_is_found_when_opened(tmp_path, keep):
    path = filled_cache(tmp_path / CACHE_FILE_NAME)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(max(50, int(size * keep)))
    before = digest(path)
    with pytest.raises(CacheFileError, match="truncated") as e:
        SqlCache(path)
    assert_names_file_and_fix(str(e.value), path)
    assert digest(path) == before


def test_damaged_pages_give_a_named_error_not_a_raw_sqlite_one(tmp_path):
    path = filled_cache(tmp_path / CACHE_FILE_NAME)
    with open(path, "rb") as f:
        page = int.from_bytes(f.read(18)[16:18], "big")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:  # keep page 1 (header + schema), scribble over the rest
        f.seek(page)
        f.write(b"\xab" * (size - page))
    with pytest.raises(CacheFileError, match="damaged") as e:
        cache = SqlCache(path)
        cache.get_many([f"k{i}" for i in range(400)])
    assert_names_file_and_fix(str(e.value), path)
    assert "move it aside" in str(e.value)


def test_predictor_fails_before_sending_anything(tmp_path):
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.testing import FakeServer

    cache_dir = tmp_path / "c"
    cache_dir.mkdir()
    (cache_dir / CACHE_FILE_NAME).write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
    with FakeServer(latency=0.0) as srv:
        lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-test-0123456789",
                            base_url=srv.base_url, cache_dir=str(cache_dir))
        with pytest.raises(CacheFileError, match="truncated"):
            list(lm.predict_many(["What is 2+2?", "What is 3+3?"]))
        assert srv.counts == {}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lmwrapper.cli.main", *args], check=False,
                          capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def test_cli_says_which_file_in_one_line(tmp_path):
    cache_dir = tmp_path / "c"
    cache_dir.mkdir()
    (cache_dir / CACHE_FILE_NAME).write_text("not a database")
    src = tmp_path / "in.jsonl"
    src.write_text('"What is 2+2?"\n')
    for args in (["cache", "stats"], ["run", "--model", "openai/gpt-5.4-mini", str(src), "--dry-run"]):
        r = cli("--cache-dir", str(cache_dir), *args)
        assert r.returncode == 1, r
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert str(cache_dir / CACHE_FILE_NAME) in r.stderr and "not a SQLite database" in r.stderr


HOLDER = textwrap.dedent("""
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("COMMIT")
    db.close()
""")


@pytest.fixture
def lock_holder(tmp_path):
    path = filled_cache(tmp_path / CACHE_FILE_NAME, rows=3)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield path, proc
    proc.kill()
    proc.wait()


def test_locked_file_ends_in_an_error_naming_the_file(lock_holder, monkeypatch, capsys):
    path, _ = lock_holder
    monkeypatch.setenv("LMWRAPPER_CACHE_LOCK_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(CacheLockedError) as e:
        SqlCache(path)
    assert time.monotonic() - started < 30
    assert_names_file_and_fix(str(e.value), path)
    assert "fuser" in str(e.value) and "LMWRAPPER_CACHE_LOCK_TIMEOUT" in str(e.value)


def test_long_wait_names_the_file_and_a_released_lock_is_taken(lock_holder, monkeypatch, capsys):
    path, proc = lock_holder
    monkeypatch.setenv("LMWRAPPER_CACHE_LOCK_TIMEOUT", "12")  # a note after 3 s of waiting
    opened: list = []
    opener = threading.Thread(target=lambda: opened.append(SqlCache(path)))
    opener.start()
    err, deadline = "", time.monotonic() + 35
    while "waiting for the lock" not in err and time.monotonic() < deadline:
        err += capsys.readouterr().err
        time.sleep(0.05)
    assert f"waiting for the lock on cache file {path}" in err
    proc.stdin.write("release\n")
    proc.stdin.flush()
    opener.join(timeout=60)
    assert opened, "the cache did not open once the other process let go of the lock"
    assert opened[0].stats()["rows"] == 3


class BusyOnce:
    """A connection that answers SQLite's "database is locked" to its first `busy` reads, as
    a reader in WAL mode may get while another process checkpoints the log."""

    def __init__(self, conn, busy):
        self._conn, self.busy = conn, busy

    def execute(self, sql, *args):
        if self.busy and sql.lstrip().upper().startswith("SELECT"):
            self.busy -= 1
            raise sqlite3.OperationalError("database is locked")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


@pytest.mark.parametrize("read", ["get_many", "query", "stats"])
def test_a_read_that_finds_the_file_busy_waits_for_it_as_a_write_does(tmp_path, read):
    cache = SqlCache(filled_cache(tmp_path / CACHE_FILE_NAME, rows=3))
    key = cache.query("SELECT key FROM predictions LIMIT 1")[0][0]
    cache._conn = busy = BusyOnce(cache._conn, busy=3)
    if read == "get_many":
        assert key in cache.get_many([key])
    elif read == "stats":  # `lmwrapper cache stats` while another process checkpoints
        assert cache.stats()["rows"] == 3
    else:
        assert cache.query("SELECT count(*) FROM predictions") == [(3,)]
    assert busy.busy == 0  # it was told "locked" three times and read on


def test_a_long_write_of_our_own_does_not_pause_sending_as_if_another_process_held_the_file(
        tmp_path):
    cache = SqlCache(filled_cache(tmp_path / CACHE_FILE_NAME, rows=3))
    paused, release = [], threading.Event()

    def long_write():  # as a lease released at the end of a big run deletes its claims
        with cache.write():
            release.wait(timeout=60)

    holder = threading.Thread(target=long_write)
    holder.start()
    def store():  # the run's writer, which pauses sending when the file is locked
        with cache.write(on_wait=lambda: paused.append(1)):
            pass

    writer = threading.Thread(target=store)
    writer.start()
    writer.join(timeout=0.3)  # kept out of the lock for a while (a slow start only makes
    release.set()             # this test pass without telling: it never fails wrongly)
    holder.join(timeout=60)
    writer.join(timeout=60)
    assert not writer.is_alive() and paused == []


def test_lock_timeout_setting_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_CACHE_LOCK_TIMEOUT", "-5")
    with pytest.raises(ConfigurationError, match="LMWRAPPER_CACHE_LOCK_TIMEOUT"):
        SqlCache(tmp_path / CACHE_FILE_NAME)
