"""The seed README's Claude example verbatim, the examples of docs/claude.md, and
`lmwrapper run --model anthropic/…`, all against the fake server."""

from __future__ import annotations

import json

import pytest
from docs_blocks import python_blocks

from lmwrapper.cli.main import main

# Copied from ../shared/seeds/lmwrapper-README.md ("## Claude"), so the test does not depend
# on a path outside the repository.
SEED_CLAUDE_EXAMPLE = '''\
from lmwrapper.claude_wrapper.wrapper import (
    get_claude_lm, ClaudeModelNames
)
lm = get_claude_lm(ClaudeModelNames.claude_3_5_haiku)
prediction = lm.predict("Define 'anthropology' in one short sentence") 
print(prediction.completion_text) # Anthropology is the scientific study of human cultures, societies, behaviors, and...
'''


@pytest.fixture
def claude_env(srv, monkeypatch, tmp_path):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-seed-example-key")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")  # the docs' batch example
    monkeypatch.chdir(tmp_path)
    return srv


def test_seed_claude_example_runs_as_written(claude_env, capsys):
    claude_env.add_answer("anthropology", "Anthropology is the study of humans.")
    namespace = {"__name__": "__seed_example__"}
    exec(compile(SEED_CLAUDE_EXAMPLE, "seed README: Claude", "exec"), namespace)  # noqa: S102
    assert capsys.readouterr().out.strip() == "Anthropology is the study of humans."
    assert claude_env.requests[-1].body["model"] == "claude-3-5-haiku-20241022"


def claude_blocks():
    return python_blocks("claude.md")


def test_the_claude_page_has_the_seed_example_and_a_batch():
    assert any("get_claude_lm(ClaudeModelNames.claude_3_5_haiku)" in b for b in claude_blocks())
    assert any("CompletionWindow.BATCH_ANY" in b for b in claude_blocks())


@pytest.mark.parametrize("index", range(len(claude_blocks())))
def test_docs_claude_example_runs_as_written(index, claude_env, capsys):
    code = claude_blocks()[index]
    exec(compile(code, f"docs/claude.md[block {index}]", "exec"), {"__name__": "__readme__"})  # noqa: S102
    assert "Error" not in capsys.readouterr().out


def test_run_command_with_an_anthropic_model(claude_env, tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = ["What is the capital of France?",
            [{"role": "system", "content": "be brief"}, "What is 2+2?"],
            {"text": "Tell me a story", "num_completions": 2, "max_tokens": 3}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--cache-dir", str(tmp_path / "c"), "run", "--model", "anthropic/claude-haiku-4-5",
            "--temperature", "0", str(src), "-o", str(out)]
    assert main(args) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["completion_text"] for g in got[:2]] == ["Paris", "4"]
    assert got[0]["provider"] == "anthropic"
    assert any(r.body.get("system") == "be brief" for r in claude_env.requests)
    sent = claude_env.count("messages")
    assert main(args) == 0 and claude_env.count("messages") == sent  # all cached now


def test_run_command_with_batch_sends_claude_prompts_as_a_message_batch(claude_env, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(f"What is {i}+1?") + "\n" for i in range(3)))
    args = ["--cache-dir", str(tmp_path / "c"), "run", "--model", "anthropic/claude-haiku-4-5",
            "--temperature", "0", "--batch", str(src), "-o", str(out)]
    assert main(args) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["completion_text"] for g in got] == ["1", "2", "3"]
    assert all(g["batch_id"].startswith("msgbatch_") for g in got)
    assert claude_env.count("messages.batches.create") == 1 and claude_env.count("messages") == 0
