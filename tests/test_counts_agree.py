"""Dry run, estimate, `last_run` and the cost limit count the same prompts (issue 18): a
repeated prompt is one prompt, sent and paid for once, and a sub-cent limit reads as one."""

import json

import pytest

from lmwrapper import CostEstimate, CostLimitExceededError
from lmwrapper.cli.main import main
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer

LINES = ["a", "b", "a", "c", "a", "b", "d"]  # 7 prompts, 4 unique


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-counts-agree-key")
    with FakeServer() as s:
        yield s


def _dry_run(srv, tmp_path, capsys, cache_dir):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": p, "max_tokens": 5}) + "\n" for p in LINES))
    assert main(["--cache-dir", str(cache_dir), "run", "--model", "openai/gpt-4o-mini",
                 "--base-url", srv.base_url, str(src), "--dry-run"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("prompts:"))
    words = line.replace(":", "").replace("to send", "send").split()
    return {words[i]: int(words[i + 1]) for i in range(0, 8, 2)}


def test_estimate_dry_run_and_last_run_count_unique_prompts_alike(srv, tmp_path, capsys, cache_dir):
    lm = get_open_ai_lm("gpt-4o-mini", base_url=srv.base_url, cache_dir=str(cache_dir))
    prompts = [LmPrompt(p, max_tokens=5) for p in LINES]
    est = lm.estimate_cost(prompts)
    once = lm.estimate_cost([LmPrompt(p, max_tokens=5) for p in dict.fromkeys(LINES)])
    assert est == once and est.prompts == 4  # was 7: duplicates priced as if sent each time
    assert _dry_run(srv, tmp_path, capsys, cache_dir) == {
        "prompts": 7, "unique": 4, "cached": 0, "send": 4}

    list(lm.predict_many(prompts[:3]))  # a, b cached
    dry = _dry_run(srv, tmp_path, capsys, cache_dir)
    assert dry == {"prompts": 7, "unique": 4, "cached": 2, "send": 2}
    assert list(lm.predict_many(prompts))
    run = lm.last_run
    assert (run.prompts, run.unique, run.unique_cached, run.to_send) == (
        dry["prompts"], dry["unique"], dry["cached"], dry["send"])
    assert "7 prompts (4 unique, 2 to send)" in str(run)
    assert srv.count("chat.completions") == 4  # each distinct prompt paid once


def test_a_cost_estimate_shows_its_total():
    est = CostEstimate(3, 120, 300, 0.00006, 0.00018)
    assert "total_usd=0.00024" in repr(est)
    assert str(est) == ("3 prompts, 120 input tokens, up to 300 output tokens: at most $0.00024 "
                        "(input $0.00006 + output $0.00018)")
    assert "free" in str(CostEstimate(1, 5, 5, 0.0, 0.0, free=True))
    assert "price unknown" in str(CostEstimate(1, 5, 5, 0.0, 0.0, priced=False))


def test_a_sub_cent_cost_limit_is_printed_as_it_was_given(srv, cache_dir):
    lm = get_open_ai_lm("gpt-4o-mini", base_url=srv.base_url, cache_dir=str(cache_dir))
    with pytest.raises(CostLimitExceededError) as e:
        list(lm.predict_many([LmPrompt("x" * 2000, max_tokens=500)], max_cost_usd=0.00001))
    assert "max_cost_usd=$0.00001." in str(e.value)  # was "$0.0000"
    assert srv.count("chat.completions") == 0
