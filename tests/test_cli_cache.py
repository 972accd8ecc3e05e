"""`lmwrapper cache stats | clear | export`, run as a real subprocess."""

import json
import os
import subprocess
import sys
import time

from lmwrapper.sqlcache import get_cache
from lmwrapper.testing import ScriptedLm
from lmwrapper.errors import PermanentProviderError


def cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "lmwrapper", *args], capture_output=True, text=True,
                       env=os.environ.copy(), stdin=subprocess.DEVNULL, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_stats_export_and_clear(tmp_path):
    list(ScriptedLm("model-a").predict_many(["a", "b", "c"]))
    lm_b = ScriptedLm("model-b")
    lm_b.enqueue(PermanentProviderError("too long"))
    list(lm_b.predict_many(["x", "y"]))

    out = cli("cache", "stats").stdout
    assert "rows: 5 (1 errors)" in out and "scripted/model-a: 3 rows" in out
    stats = json.loads(cli("cache", "stats", "--json").stdout)
    assert stats["rows"] == 5 and {m["model"] for m in stats["models"]} == {"model-a", "model-b"}

    export = tmp_path / "dump.jsonl"
    assert "wrote 5 rows" in cli("cache", "export", str(export)).stdout
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert sorted(r["prediction"]["completion_text"] or "ERR" for r in rows) == [
        "ERR", "echo: a #1", "echo: b #2", "echo: c #3", "echo: y #2"]
    assert sum(r["is_error"] for r in rows) == 1

    refused = cli("cache", "clear", check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert "deleted 0 rows" in cli("cache", "clear", "--older-than", "1", "--yes").stdout
    assert "deleted 2 rows" in cli("cache", "clear", "--model", "model-b", "--yes").stdout
    assert get_cache().stats()["rows"] == 3


def test_clear_older_than_keeps_recent_rows():
    list(ScriptedLm().predict_many(["old"]))
    cache = get_cache()
    with cache.write() as c:
        c.execute("UPDATE predictions SET created_at = ?", (time.time() - 10 * 86400,))
    list(ScriptedLm().predict_many(["new"]))
    assert "deleted 1 rows" in cli("cache", "clear", "--older-than", "7", "-y").stdout
    lm = ScriptedLm()
    list(lm.predict_many(["old", "new"]))
    assert lm.call_log == ["old"]


def test_cache_dir_flag_and_default_location(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    list(ScriptedLm(cache_dir=str(other)).predict_many(["a"]))
    assert json.loads(cli("--cache-dir", str(other), "cache", "stats", "--json").stdout)["rows"] == 1
    from lmwrapper.sqlcache import get_cache_dir, set_cache_dir

    monkeypatch.delenv("LMWRAPPER_CACHE_DIR")
    project = tmp_path / "proj"
    (project / "sub" / "dir").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    monkeypatch.chdir(project / "sub" / "dir")
    assert get_cache_dir() == project / "cache"
    set_cache_dir(tmp_path / "explicit")
    try:
        assert get_cache_dir() == tmp_path / "explicit"
    finally:
        set_cache_dir(None)
