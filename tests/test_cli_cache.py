"""`lmwrapper cache stats | clear | export`, run as a real subprocess."""

import json
import os
import subprocess
import sys
import time

import pytest
from cache_file import cache_stats

from lmwrapper import PermanentProviderError
from lmwrapper.store.db import get_cache
from lmwrapper.testing import ScriptedBackend, ScriptedLm


def scripted_as(provider: str) -> type[ScriptedLm]:
    """A `ScriptedLm` whose backend says it is `provider`'s model."""
    backend = type(f"{provider}Backend", (ScriptedBackend,), {"provider": provider})
    return type(f"{provider}Lm", (ScriptedLm,), {"backend_class": backend})


def cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "lmwrapper", *args], check=False, capture_output=True, text=True,
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
    assert "rows: 5 (1 error)" in out and "scripted/model-a: 3 rows" in out
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
    assert cache_stats()["rows"] == 3


def test_clear_older_than_keeps_recent_rows():
    list(ScriptedLm().predict_many(["old"]))
    cache = get_cache()
    with cache.write() as c:
        c.execute("UPDATE predictions SET created_at = ?", (time.time() - 10 * 86400,))
    list(ScriptedLm().predict_many(["new"]))
    assert "deleted 1 row\n" in cli("cache", "clear", "--older-than", "7", "-y").stdout
    lm = ScriptedLm()
    list(lm.predict_many(["old", "new"]))
    assert lm.call_log == ["old"]


def test_cache_dir_flag_and_default_location(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    list(ScriptedLm(cache_dir=str(other)).predict_many(["a"]))
    assert json.loads(cli("--cache-dir", str(other), "cache", "stats", "--json").stdout)["rows"] == 1
    from lmwrapper import get_cache_dir, set_cache_dir

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


def two_models_with_errors():
    """model-a: 2 answers + 1 error; model-b: 1 answer + 1 error."""
    for name, prompts in (("model-a", ["a", "b", "c"]), ("model-b", ["x", "y"])):
        lm = ScriptedLm(name)
        lm.enqueue(PermanentProviderError("too long"))
        list(lm.predict_many(prompts))
    assert cache_stats()["rows"] == 5


def rows_by_model():
    return {(m["model"], m["errors"]): m["rows"] for m in cache_stats()["models"]}


@pytest.mark.parametrize("days", ["-1", "nan", "inf", "-inf", "soon"])
def test_clear_refuses_an_age_that_is_not_a_number_of_days(days):
    two_models_with_errors()
    r = cli("cache", "clear", f"--older-than={days}", "--yes", check=False)
    assert r.returncode == 2 and "--older-than" in r.stderr and ">= 0" in r.stderr
    assert cache_stats()["rows"] == 5


def test_clear_of_an_unknown_model_says_so_and_lists_the_models():
    two_models_with_errors()
    r = cli("cache", "clear", "--model", "model-c", "--yes", check=False)
    assert r.returncode == 1 and "deleted" not in r.stdout
    assert "no rows of model 'model-c'" in r.stderr
    assert "scripted/model-a, scripted/model-b" in r.stderr or "scripted/model-b, scripted/model-a" in r.stderr
    assert "Did you mean" in r.stderr
    assert cache_stats()["rows"] == 5
    assert "deleted 2 rows" in cli("cache", "clear", "--model", "scripted/model-b", "--yes").stdout


def test_provider_slash_model_names_one_providers_rows_only():
    LocalNamesake = scripted_as("hf")  # a local model that shares its name with another provider's

    list(ScriptedLm("same-name").predict_many(["a", "b"]))
    list(LocalNamesake("same-name").predict_many(["c"]))
    shown = cli("cache", "show", "--model", "hf/same-name", "--json").stdout.splitlines()
    assert [json.loads(line)["provider"] for line in shown] == ["hf"]
    assert "deleted 2 rows" in cli("cache", "clear", "--model", "scripted/same-name", "-y").stdout
    assert {(m["provider"], m["model"]): m["rows"] for m in cache_stats()["models"]} == {
        ("hf", "same-name"): 1}  # was 0: the provider was dropped from the filter
    assert "deleted 1 row\n" in cli("cache", "clear", "--model", "same-name", "-y").stdout


def test_clear_errors_removes_only_error_rows_and_combines_with_model():
    two_models_with_errors()
    assert "deleted 1 row\n" in cli("cache", "clear", "--errors", "--model", "model-a", "-y").stdout
    assert rows_by_model() == {("model-a", 0): 2, ("model-b", 1): 2}
    assert "deleted 1 row\n" in cli("cache", "clear", "--errors", "-y").stdout
    assert rows_by_model() == {("model-a", 0): 2, ("model-b", 0): 1}


def test_export_dash_writes_to_stdout_not_a_file(tmp_path):
    two_models_with_errors()
    import lmwrapper

    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(lmwrapper.__file__))}
    r = subprocess.run([sys.executable, "-m", "lmwrapper", "cache", "export", "-"], cwd=tmp_path,
                       env=env, check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert len([json.loads(line) for line in r.stdout.splitlines()]) == 5
    assert "wrote 5 rows" in r.stderr and not (tmp_path / "-").exists()


def test_reading_a_cache_that_does_not_exist_says_so_and_creates_nothing(tmp_path):
    typo = tmp_path / "cahce"
    for args in (["cache", "stats"], ["cache", "clear", "--yes"], ["cache", "export", "-"]):
        r = cli("--cache-dir", str(typo), *args, check=False)
        assert r.returncode == 1 and "no cache file at" in r.stderr and str(typo) in r.stderr
    assert not typo.exists()


def test_export_to_a_pipe_that_closes_early_is_not_an_error():
    list(ScriptedLm().predict_many([f"prompt {i} " + "x" * 500 for i in range(300)]))
    proc = subprocess.Popen([sys.executable, "-m", "lmwrapper", "cache", "export", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert json.loads(proc.stdout.readline())["sample_index"] == 0
    proc.stdout.close()  # like `| head -1`: 300 rows of ~1 kB do not fit the pipe's buffer
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err, err


def test_cache_commands_take_the_names_run_and_get_lm_take():
    """One grammar: the rows of `hf/smollm2-135m-instruct` (stored by the provider class's own
    name, "huggingface") and of `claude/...` (an alias of anthropic) are found by the name
    `lmwrapper run --model` takes, and `cache stats` prints that name."""
    from lmwrapper.providers.registry import PROVIDERS, provider_of, spelled

    Local, Claude = scripted_as("huggingface"), scripted_as("anthropic")

    list(Local("smollm2-135m-instruct").predict_many(["a", "b"]))
    list(Claude("claude-haiku-4-5").predict_many(["c"]))
    assert "hf/smollm2-135m-instruct: 2 rows" in cli("cache", "stats").stdout
    shown = cli("cache", "show", "--model", "hf/smollm2-135m-instruct", "--json").stdout
    assert len(shown.splitlines()) == 2
    assert "hf/smollm2-135m-instruct" in cli("cache", "show", "-m", "huggingface/smollm2-135m-instruct").stdout
    assert "deleted 1 row\n" in cli("cache", "clear", "--model", "claude/claude-haiku-4-5", "-y").stdout
    assert "deleted 2 rows" in cli("cache", "clear", "--model", "hf/smollm2-135m-instruct", "-y").stdout
    for name in PROVIDERS:  # what stats prints is a name get_lm takes, for every provider
        assert provider_of(spelled(name, "m"))[0].name == name
    assert provider_of(spelled("huggingface", "m"))[0].name == "hf"


def test_an_unknown_model_is_suggested_in_the_run_spelling():
    Local = scripted_as("huggingface")

    list(Local("smollm2-135m-instruct").predict_many(["a"]))
    r = cli("cache", "show", "--model", "hf/smollm2-135m", check=False)
    assert r.returncode == 1
    assert "Did you mean 'hf/smollm2-135m-instruct'" in r.stderr
    assert "Models present: hf/smollm2-135m-instruct" in r.stderr
