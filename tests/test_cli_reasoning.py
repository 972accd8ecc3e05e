"""`lmwrapper run` takes the reasoning fields per JSONL line and as flags (defaults for the
lines that do not set them), against the fake server."""

from __future__ import annotations

import json

import pytest

from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with FakeServer(latency=0.0) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli-reasoning")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.anthropic_base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-cli-reasoning")
        monkeypatch.chdir(tmp_path)
        yield srv


def run(tmp_path, rows, *flags):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(["--cache-dir", str(tmp_path / "c"), "run", *flags, str(src), "-o", str(out)])
    return code, [json.loads(line) for line in out.read_text().splitlines()] if code == 0 else []


def test_effort_per_line_and_as_a_flag(fake, tmp_path):
    rows = [{"prompt": "Is 91 prime?", "id": "a"},
            {"prompt": "Is 91 prime?", "id": "b", "reasoning_effort": "low"}]
    code, got = run(tmp_path, rows, "--model", "openai/gpt-6.2-sol", "--reasoning-effort",
                    "high", "--verbosity", "low")
    assert code == 0
    sent = [r.body for r in fake.requests if r.route == "chat.completions"]
    # the two are sent concurrently: in either order
    assert sorted((b["reasoning_effort"], b["verbosity"]) for b in sent) == [("high", "low"),
                                                                            ("low", "low")]
    assert [g["usage"]["reasoning_tokens"] for g in got] == [80, 12]
    assert all("reasoning" in g for g in got)
    assert run(tmp_path, rows, "--model", "openai/gpt-6.2-sol", "--reasoning-effort", "high",
               "--verbosity", "low")[0] == 0
    assert fake.count("chat.completions") == 2  # the rerun was cached


def test_thinking_flag_and_the_thinking_text_in_the_output(fake, tmp_path):
    code, got = run(tmp_path, ["Is 91 prime?"], "--model", "anthropic/claude-opus-4-8",
                    "--thinking", "adaptive", "--reasoning-effort", "low", "--max-tokens", "2000")
    assert code == 0
    [body] = [r.body for r in fake.requests if r.route == "messages"]
    assert body["thinking"]["type"] == "adaptive" and body["output_config"] == {"effort": "low"}
    assert got[0]["reasoning"].startswith("Considering") and got[0]["usage"]["reasoning_tokens"]
    code, _ = run(tmp_path, ["q"], "--model", "anthropic/claude-haiku-4-5", "--thinking",
                  "2048", "--max-tokens", "4000")
    assert code == 0 and fake.requests[-1].body["thinking"] == {"type": "enabled",
                                                               "budget_tokens": 2048}


def test_a_bad_flag_or_a_value_the_model_refuses_sends_nothing(fake, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run(tmp_path, ["q"], "--model", "anthropic/claude-opus-4-8", "--thinking", "lots")
    assert e.value.code == 2 and "--thinking" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(tmp_path, ["q"], "--model", "openai/gpt-6.2-sol", "--reasoning-effort", "ultra")
    code, _ = run(tmp_path, ["q"], "--model", "openai/gpt-6.2-sol", "--reasoning-effort", "none")
    err = capsys.readouterr().err
    assert code == 2 and "prompt number 1: LmPrompt.reasoning_effort cannot be honoured by " \
        "gpt-6.2-sol: gpt-6.2-sol takes reasoning_effort low, medium, high, xhigh" in err
    assert fake.requests == []
