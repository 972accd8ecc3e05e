"""`lmwrapper cache show`, prompts in `cache export`, spend in `cache stats`, sub-cent sums."""

import json
import os
import subprocess
import sys

from lmwrapper import PermanentProviderError
from lmwrapper.store.db import get_cache
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedLm


def cli(*args, check=True, env=None):
    r = subprocess.run([sys.executable, "-m", "lmwrapper", *args], check=False,
                       capture_output=True, text=True, env={**os.environ, **(env or {})},
                       stdin=subprocess.DEVNULL, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def fill():
    a = ScriptedLm("model-a", answer=lambda p, i: f"answer {i}", cost_per_call=0.00002)
    list(a.predict_many(["What is the capital of France?",
                         LmPrompt([{"role": "system", "content": "Be brief."}, "Hi there"])]))
    b = ScriptedLm("model-b")
    b.enqueue(PermanentProviderError("prompt too long"))
    list(b.predict_many(["a very long question"]))


def test_show_prints_the_newest_prompts_and_answers_readably():
    fill()
    out = cli("cache", "show", "-n", "5").stdout
    assert out.index("scripted/model-b") < out.index("scripted/model-a")  # newest first
    assert "> What is the capital of France?\n\nanswer 1" in out
    assert "> system: Be brief.\n> user: Hi there" in out
    assert "ERROR: prompt too long" in out and "$0.00002" in out
    assert cli("cache", "show").stdout.count("## ") == 3  # the default: 3 newest
    assert cli("cache", "show", "-n", "1").stdout.count("## ") == 1


def test_show_filters_and_json():
    fill()
    rows = [json.loads(x) for x in cli("cache", "show", "-n", "0", "--json").stdout.splitlines()]
    assert len(rows) == 3 and all("prompt" in r and "prediction" in r for r in rows)
    only_a = cli("cache", "show", "--model", "scripted/model-a", "-n", "0", "--json").stdout
    assert {json.loads(x)["model"] for x in only_a.splitlines()} == {"model-a"}
    (hit,) = cli("cache", "show", "--search", "france", "--json").stdout.splitlines()
    assert json.loads(hit)["prompt"]["text"] == "What is the capital of France?"
    (err,) = cli("cache", "show", "--errors", "--json").stdout.splitlines()
    assert json.loads(err)["prediction"]["error_message"] == "prompt too long"
    missing = cli("cache", "show", "--model", "model-c", check=False)
    assert missing.returncode == 1 and "Did you mean" in missing.stderr
    bad_n = cli("cache", "show", "-n", "-2", check=False)
    assert bad_n.returncode == 2 and "whole number" in bad_n.stderr


def test_show_says_when_a_row_has_no_stored_prompt():
    list(ScriptedLm().predict_many(["old"]))
    with get_cache().write() as c:  # as if cached by a version that did not store prompts
        c.execute("DELETE FROM prompts")
    assert "prompt not stored" in cli("cache", "show").stdout


def test_export_writes_prompt_and_prediction_per_line(tmp_path):
    fill()
    dump = tmp_path / "dump.jsonl"
    cli("cache", "export", str(dump))
    rows = [json.loads(x) for x in dump.read_text().splitlines()]
    texts = {json.dumps(r["prompt"]["text"]) for r in rows}
    assert '"What is the capital of France?"' in texts and len(rows) == 3
    chat = next(r["prompt"] for r in rows if r["prompt"].get("kind") == "chat")
    assert chat["text"][-1] == {"role": "user", "content": "Hi there"}


def test_stats_adds_spend_to_date_per_model():
    fill()
    stats = json.loads(cli("cache", "stats", "--json").stdout)
    spent = {m["model"]: m["spent_usd"] for m in stats["models"]}
    assert abs(spent["model-a"] - 0.00004) < 1e-12 and spent["model-b"] == 0
    assert abs(stats["spent_usd"] - 0.00004) < 1e-12
    out = cli("cache", "stats").stdout
    assert "spent to date: $0.00004" in out and "scripted/model-a: 2 rows, spent $0.00004" in out


def test_summary_shows_sub_cent_spend_and_what_the_cache_saved():
    lm = ScriptedLm(cost_per_call=0.00002)
    list(lm.predict_many(["a", "b"]))
    assert "spent $0.00004, saved $0.00" in str(lm.last_run)
    list(lm.predict_many(["a", "b"]))
    assert "spent $0.00, saved $0.00004" in str(lm.last_run)


def test_progress_bar_shows_the_cost_so_far():
    script = ("import sys; from lmwrapper.testing import ScriptedLm\n"
              "lm = ScriptedLm(cost_per_call=0.00002)\n"
              "list(lm.predict_many(['a', 'b', 'c'], progress=True))\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60, check=True)
    assert "spent=$0.00006" in r.stderr
