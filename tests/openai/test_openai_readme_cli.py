"""The examples of README.md, docs/openai.md and docs/evaluate-a-dataset.md run as written
against the fake; the `run` command."""

import json

import pytest
from docs_blocks import python_blocks

from lmwrapper.cli.main import main
from lmwrapper.core.models import published
from lmwrapper.core.money import format_usd
from lmwrapper.providers.openai.models import SOURCES


def openai_page_blocks():
    return python_blocks("openai.md") + python_blocks("evaluate-a-dataset.md")


def test_the_pages_have_the_seed_examples():
    blocks = openai_page_blocks()
    assert len(blocks) >= 6
    joined = "\n".join(blocks)
    for needle in ("LmChatTurn(role=\"system\"", "retry_on_rate_limit=True", "Spingldorph",
                   "gpt_3_5_turbo_instruct", "CompletionWindow"):
        assert needle in joined


@pytest.fixture
def openai_env(srv, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test-key")
    # the Azure OpenAI section's resource: the fake, with the deployments it names
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", srv.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-readme-test-key")
    monkeypatch.delenv("OPENAI_API_VERSION", raising=False)
    srv.azure_deployments = {"team-54-mini": "gpt-5.4-mini"}
    srv.azure_batch_deployments = {"team-54-mini-batch": "gpt-5.4-mini"}
    monkeypatch.chdir(tmp_path)
    return srv


@pytest.mark.parametrize("index", range(len(openai_page_blocks())))
def test_docs_openai_example_runs_as_written(index, openai_env, capsys):
    code = openai_page_blocks()[index]
    exec(compile(code, f"docs[openai block {index}]", "exec"), {"__name__": "__docs__"})  # noqa: S102  (the docs as written)
    assert "Error" not in capsys.readouterr().out


def test_the_chat_example_sends_alternating_turns(openai_env):
    """The conversation example: five turns, user and assistant alternating, the last a user's."""
    (chat,) = [b for b in python_blocks("openai.md", "Chat")]
    exec(compile(chat, "docs/openai.md[Chat]", "exec"), {"__name__": "__docs__"})  # noqa: S102
    sent = [r.body["messages"] for r in openai_env.requests if r.route == "chat.completions"]
    conversation = next(m for m in sent if len(m) == 5)
    assert [m["role"] for m in conversation] == ["user", "assistant"] * 2 + ["user"]
    assert conversation[3]["content"] == "8"


def test_the_azure_example_reaches_the_deployment(openai_env):
    (code,) = python_blocks("openai.md", "Azure OpenAI")
    exec(compile(code, "docs/openai.md[Azure OpenAI]", "exec"), {"__name__": "__docs__"})  # noqa: S102
    (sent,) = [r for r in openai_env.requests if r.route == "chat.completions"]
    assert sent.path == "/openai/v1/chat/completions" and sent.body["model"] == "team-54-mini"


def test_the_readme_example_runs_and_a_rerun_is_cached(openai_env, capsys):
    (code,) = python_blocks("README.md")
    openai_env.add_answer("capital of Japan", "Tokyo")
    exec(compile(code, "README.md", "exec"), {"__name__": "__docs__"})  # noqa: S102
    out = capsys.readouterr().out
    assert "France -> Paris" in out and "Japan -> Tokyo" in out
    assert "3 prompts: 0 cached, 3 new, 0 failed" in out
    sent = openai_env.counts["chat.completions"]
    exec(compile(code, "README.md", "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert "3 prompts: 3 cached, 0 new" in capsys.readouterr().out
    assert openai_env.counts["chat.completions"] == sent


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_run_command_writes_answers_in_input_order(srv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test-key")
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [f"What is {i}+1?" for i in range(12)]
    rows += [[{"role": "system", "content": "be brief"}, "What is 2+2?"],
             {"prompt": "What is the capital of France?", "max_tokens": 5, "id": "q-fr"},
             {"text": "Tell me a story", "num_completions": 2, "max_tokens": 3}]
    write_jsonl(src, rows)
    args = ["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
            "--base-url", srv.base_url, "--temperature", "0", "--reasoning-effort", "none",
            str(src), "-o", str(out)]
    assert main(args) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["index"] for g in got] == list(range(15))
    assert [g["completion_text"] for g in got[:12]] == [str(i + 1) for i in range(12)]
    assert got[12]["completion_text"] == "4"
    assert got[13]["id"] == "q-fr" and got[13]["completion_text"] == "Paris"
    assert len(got[14]["samples"]) == 2
    assert "15 prompts: 0 cached" in capsys.readouterr().err
    sent = srv.counts["chat.completions"]
    assert main(args) == 0 and srv.counts["chat.completions"] == sent  # all cached now


def test_a_line_without_max_tokens_asks_for_100_as_a_bare_string_does(srv, tmp_path, monkeypatch):
    """The CLI and Python agree: a string line is `LmPrompt(text, max_tokens=100)` (it asked
    for the model's whole output limit, 128,000 tokens on gpt-5.4-mini, and the cost bound
    assumed that); `--max-tokens` sets another default; `"max_tokens": null` asks for no limit."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-test-key")
    src = tmp_path / "in.jsonl"
    write_jsonl(src, ["What is 1+1?", {"prompt": "What is 2+2?", "max_tokens": None},
                      {"prompt": "What is 3+3?", "max_tokens": 7}])
    base = ["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
            "--base-url", srv.base_url, str(src), "-o", str(tmp_path / "out.jsonl")]
    assert main(base) == 0
    sent = {r.body["messages"][-1]["content"]: r.body.get("max_completion_tokens",
                                                          r.body.get("max_tokens"))
            for r in srv.requests if r.route == "chat.completions"}
    assert sent == {"What is 1+1?": 100, "What is 2+2?": None, "What is 3+3?": 7}
    assert main([*base[:-3], "--max-tokens", "9", *base[-3:]]) == 0
    assert [r.body.get("max_completion_tokens", r.body.get("max_tokens")) for r in srv.requests
            if r.route == "chat.completions"][3:] == [9]  # only the line that set none changed


def test_dry_run_prints_tokens_and_cost_and_sends_nothing(srv, tmp_path, capsys, no_key_anywhere):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, ["What is 2+2?", {"prompt": "Hi", "max_tokens": 100}])
    assert main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, "--max-tokens", "10", str(src), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "to send: 2" in out and "output tokens (upper bound): 110" in out
    from lmwrapper.providers.openai import tokens

    n_in = sum(tokens.count_chat_tokens([{"role": "user", "content": t}], "o200k_base")
               for t in ("What is 2+2?", "Hi"))
    assert f"input tokens: {n_in} " in out
    rates = published(SOURCES, "gpt-5.4-mini")  # genai-prices' own rates, not ours
    assert rates is not None and rates.input_usd_per_mtok and rates.output_usd_per_mtok
    bound = (n_in * rates.input_usd_per_mtok + 110 * rates.output_usd_per_mtok) / 1e6
    assert f"cost upper bound: {format_usd(bound)} (input " in out
    assert srv.counts == {}
    # the same money as `estimate_cost` shows it (`$0.0000608`, not `$0.000061`)
    from lmwrapper.batch_config import CompletionWindow
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt

    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-x")
    est = lm.estimate_cost([LmPrompt("What is 2+2?", max_tokens=10),
                            LmPrompt("Hi", max_tokens=100)], CompletionWindow.ASAP)
    assert est.input_tokens == n_in
    amounts = str(est).split(": at most ")[1]  # "$X (input $Y + output $Z)"
    assert f"cost upper bound: {amounts}" in out


@pytest.mark.parametrize("line,message", [
    ({"prompt": "x", "max_token": 5}, "unknown field"),
    ({"max_tokens": 5}, "exactly one of"),
    ({"prompt": "x", "temperature": 9}, "temperature"),
    (5, "expected a string"),
])
def test_bad_lines_name_their_line_number(tmp_path, capsys, line, message):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, ["fine", line])
    assert main(["run", "--model", "openai/gpt-5.4-mini", str(src), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and message in err


def test_unknown_provider_is_refused(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, ["x"])
    assert main(["run", "--model", "gpt-5.4-mini", str(src), "--dry-run"]) == 2
    assert "provider/name" in capsys.readouterr().err


def test_run_errors_are_one_line_not_a_traceback(srv, tmp_path, capsys, no_key_anywhere):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [{"prompt": "What is 2+2?", "max_tokens": 1000}])
    base = ["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
            "--base-url", srv.base_url, str(src), "-o", str(out)]
    assert main([*base, "--max-cost-usd", "0.0000001"]) == 1
    assert "CostLimitExceededError" in capsys.readouterr().err and not out.exists()
    assert main(base) == 1
    assert "MissingApiKeyError" in capsys.readouterr().err and srv.counts == {}
