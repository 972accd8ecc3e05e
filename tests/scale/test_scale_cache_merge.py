"""`merge_caches` / `lmwrapper cache merge`: idempotent, conflicts reported, errors never win."""

import json
import sqlite3

import pytest
from cache_file import CACHE_FILE, cache_path

from lmwrapper import PermanentProviderError
from lmwrapper.cli.main import main
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedLm
from lmwrapper.tools.sharding import MergeError, merge_caches


def _prompts(n, start=0):
    return [LmPrompt(f"item {i}", max_tokens=5, temperature=0) for i in range(start, start + n)]


def _fill(directory, prompts, answers=()):
    # enqueued answers, not another answer function: the same model identity (and keys) must
    # give different values, as two runs of a sampled prompt would
    lm = ScriptedLm(cache_dir=str(directory))
    lm.enqueue(*answers)
    return [p.completion_text for p in lm.predict_many(prompts)]


def _rows(directory):
    db = sqlite3.connect(cache_path(directory))
    try:
        return db.execute("SELECT key, sample_index, provider, model, created_at, is_error, "
                          "value, blob FROM predictions ORDER BY key, sample_index").fetchall()
    finally:
        db.close()


def _cli(argv):
    return main(["cache", *argv])


def test_merging_twice_changes_nothing_the_second_time(tmp_path):
    _fill(tmp_path / "a", _prompts(30))
    _fill(tmp_path / "b", _prompts(30, start=20))  # 10 prompts in both, same answers
    first = merge_caches([tmp_path / "a", tmp_path / "b"], tmp_path / "dst", progress=False)
    assert (first.added, first.identical, first.conflict_count) == (50, 10, 0)
    before = _rows(tmp_path / "dst")
    again = merge_caches([tmp_path / "a", tmp_path / "b"], tmp_path / "dst", progress=False)
    assert (again.added, again.identical, again.rows_read) == (0, 60, 60)
    assert _rows(tmp_path / "dst") == before
    lm = ScriptedLm(cache_dir=str(tmp_path / "dst"))
    list(lm.predict_many(_prompts(50)))
    assert lm.last_run.new == 0 and lm.call_log == []


def test_different_values_for_one_sample_are_reported_and_the_first_kept(tmp_path, capsys):
    _fill(tmp_path / "a", _prompts(5))
    _fill(tmp_path / "b", _prompts(5)[3:], answers=["another answer"] * 2)
    report = merge_caches([tmp_path / "a", tmp_path / "b"], tmp_path / "dst", progress=False)
    assert report.conflict_count == 2 and report.added == 5
    assert {c.source for c in report.conflicts} == {str(cache_path(tmp_path / "b"))}
    assert all("another answer" in c.other and "echo: item" in c.kept for c in report.conflicts)
    lm = ScriptedLm(cache_dir=str(tmp_path / "dst"))
    assert [p.completion_text for p in lm.predict_many(_prompts(5))] == [
        f"echo: item {i}" for i in range(5)]

    status = _cli(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--into",
                   str(tmp_path / "dst"), "--json", "--no-progress"])
    assert status == 1  # merged, but not cleanly: the user must look
    out = json.loads(capsys.readouterr().out)
    assert out["conflict_count"] == 2 and out["added"] == 0
    assert {c["other"] for c in out["conflicts"]} == {c.other for c in report.conflicts}


def test_an_error_row_never_overwrites_a_good_one_and_a_good_one_replaces_an_error(tmp_path):
    bad = ScriptedLm(cache_dir=str(tmp_path / "bad"))
    bad.enqueue(PermanentProviderError("prompt too long"))
    results = list(bad.predict_many(_prompts(3)))
    assert results[0].has_errors and not results[1].has_errors
    _fill(tmp_path / "good", _prompts(3))

    first = merge_caches([tmp_path / "bad", tmp_path / "good"], tmp_path / "dst", progress=False)
    assert (first.errors_replaced, first.conflict_count) == (1, 0)
    second = merge_caches([tmp_path / "bad"], tmp_path / "dst", progress=False)
    assert (second.errors_skipped, second.added, second.identical) == (1, 0, 2)
    lm = ScriptedLm(cache_dir=str(tmp_path / "dst"))
    preds = list(lm.predict_many(_prompts(3)))
    assert not any(p.has_errors for p in preds) and lm.last_run.new == 0


def test_a_source_with_a_newer_schema_is_refused(tmp_path, capsys):
    _fill(tmp_path / "new", _prompts(2))
    db = sqlite3.connect(cache_path(tmp_path / "new"))
    db.execute("INSERT INTO _migrations VALUES ('0099_from_the_future', 0)")
    db.commit()
    db.close()
    with pytest.raises(MergeError, match="0099_from_the_future.*upgrade lmwrapper"):
        merge_caches([tmp_path / "new"], tmp_path / "dst", progress=False)
    assert not (tmp_path / "dst").exists()  # refused before anything was written
    assert _cli(["merge", str(tmp_path / "new"), "--into", str(tmp_path / "dst")]) == 2
    assert "newer lmwrapper" in capsys.readouterr().err


def test_bad_sources_are_refused_with_the_fix(tmp_path):
    _fill(tmp_path / "a", _prompts(2))
    with pytest.raises(MergeError, match="no such cache file"):
        merge_caches([tmp_path / "missing"], tmp_path / "dst", progress=False)
    with pytest.raises(MergeError, match="destination itself"):
        merge_caches([tmp_path / "a"], tmp_path / "a" / CACHE_FILE, progress=False)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(MergeError, match="not an lmwrapper cache"):
        merge_caches([other], tmp_path / "dst", progress=False)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(MergeError, match="cannot be read as SQLite"):
        merge_caches([tmp_path / "junk.sqlite"], tmp_path / "dst", progress=False)


def _add_job_tables(directory, jobs, extra_table=False):
    # the batch engine's own table (migration 0002): job_id, provider, model, identity, ...
    db = sqlite3.connect(cache_path(directory))
    db.executemany("INSERT OR REPLACE INTO batch_jobs VALUES (?, 'openai', 'gpt-4o-mini', ?, 0, NULL)",
                   jobs)
    if extra_table:
        db.execute("CREATE TABLE batch_future (x)")
    db.commit()
    db.close()


def test_tables_both_files_have_come_along_and_the_others_are_named(tmp_path):
    _fill(tmp_path / "a", _prompts(2))
    _fill(tmp_path / "dst", _prompts(1))
    _add_job_tables(tmp_path / "a", [("b1", "done"), ("b2", "done"), ("b3", "running")],
                    extra_table=True)
    _add_job_tables(tmp_path / "dst", [("b0", "done"), ("b3", "done")])
    report = merge_caches([tmp_path / "a"], tmp_path / "dst", progress=False)
    # background_responses (migration 0005) comes along too: a merged file's rerun adopts them
    assert report.table_rows_added == {"batch_jobs": 2, "batch_batches": 0, "batch_lines": 0,
                                       "background_responses": 0}
    assert report.table_conflicts == {"batch_jobs": 1}  # b3: DST's record kept
    assert "batch_future" in report.skipped_tables
    assert "batch_future: skipped" in report.summary()
    db = sqlite3.connect(cache_path(tmp_path / "dst"))
    assert db.execute("SELECT job_id, identity FROM batch_jobs ORDER BY job_id").fetchall() == [
        ("b0", "done"), ("b1", "done"), ("b2", "done"), ("b3", "done")]
    db.close()
    again = merge_caches([tmp_path / "a"], tmp_path / "dst", progress=False)
    assert again.table_rows_added == {"batch_jobs": 0, "batch_batches": 0, "batch_lines": 0,
                                      "background_responses": 0}


def test_the_cli_merges_with_a_progress_bar(tmp_path, capsys):
    _fill(tmp_path / "a", _prompts(3))
    _fill(tmp_path / "b", _prompts(3, start=3))
    dst = tmp_path / "merged.sqlite"
    assert _cli(["merge", str(tmp_path / "a"), str(tmp_path / "b" / CACHE_FILE),
                 "--into", str(dst)]) == 0
    # the bar appears only where asked; the summary always
    assert "added 6" in capsys.readouterr().out
    report = merge_caches([tmp_path / "a"], dst, progress=True)
    assert report.identical == 3
    assert "merge" in capsys.readouterr().err


def test_a_merge_spanning_several_chunks_keeps_every_row(tmp_path, monkeypatch):
    import lmwrapper.store.merge as cm

    monkeypatch.setattr(cm, "CHUNK_ROWS", 7)
    _fill(tmp_path / "a", _prompts(40))
    bad = ScriptedLm(cache_dir=str(tmp_path / "dst"))
    bad.enqueue(*[PermanentProviderError("boom")] * 40)
    list(bad.predict_many(_prompts(40)))
    report = merge_caches([tmp_path / "a"], tmp_path / "dst", progress=False)
    assert (report.rows_read, report.errors_replaced) == (40, 40)
    assert _rows(tmp_path / "dst") == _rows(tmp_path / "a")
