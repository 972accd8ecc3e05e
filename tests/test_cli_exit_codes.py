"""`lmwrapper run`'s exit codes, as docs/cli.md states them: 0 every prompt answered, 1 some
failed (counted on stderr), 2 usage, 130 interrupted (tests/test_cli_run_errors.py) — live,
`--batch --wait` and submit-then-collect alike."""

import json

import pytest

from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-exit-test-key")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.01")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_MAX_S", "0.05")
    with FakeServer() as s:
        yield s


def run(srv, tmp_path, prompts, *args):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": p, "max_tokens": 5}) + "\n" for p in prompts))
    return main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, str(src), "-o", str(tmp_path / "out.jsonl"), *args])


def long_prompts(n):
    """Prompts the fake refuses as over its context window: the prompt's own error."""
    return [f"q{i} " + "word " * 50 for i in range(n)]


WINDOWS = [(), ("--batch", "--wait")]


@pytest.mark.parametrize("window", WINDOWS, ids=["live", "batch-wait"])
def test_all_answered_exits_0(srv, tmp_path, capsys, window):
    assert run(srv, tmp_path, ["q0", "q1"], *window) == 0
    assert "prompts failed" not in capsys.readouterr().err


@pytest.mark.parametrize("window", WINDOWS, ids=["live", "batch-wait"])
def test_every_prompt_failed_exits_1_with_the_count(srv, tmp_path, capsys, window):
    srv.context_limit = 20
    assert run(srv, tmp_path, long_prompts(3), *window) == 1
    assert "3 of 3 prompts failed" in capsys.readouterr().err
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(x)["error_message"] for x in lines)


@pytest.mark.parametrize("window", WINDOWS, ids=["live", "batch-wait"])
def test_some_failed_exits_1_and_allow_errors_exits_0(srv, tmp_path, capsys, window):
    srv.context_limit = 20
    prompts = ["q0", *long_prompts(1), "q2"]
    assert run(srv, tmp_path, prompts, *window) == 1
    err = capsys.readouterr().err
    assert "1 of 3 prompts failed" in err and "earlier run" not in err
    assert run(srv, tmp_path, prompts, *window, "--allow-errors") == 0  # from the cache
    err = capsys.readouterr().err
    assert "1 of 3 prompts failed" in err and "exit 0 (--allow-errors)" in err
    # the summary counts the cached error as "cached, 0 failed": the failure line says why
    assert "1 of them cached by an earlier run" in err and "cache clear --errors" in err


def test_submit_then_collect_exits_1_when_the_written_answers_hold_errors(srv, tmp_path, capsys):
    srv.context_limit = 20
    prompts = ["q0", *long_prompts(1)]
    for _ in range(50):  # the fake finishes a batch in a few polls: a few reruns
        code = run(srv, tmp_path, prompts, "--batch")
        if (tmp_path / "out.jsonl").exists():
            break
        assert code == 0
    assert code == 1 and "1 of 2 prompts failed" in capsys.readouterr().err


def test_usage_errors_exit_2_and_send_nothing(srv, tmp_path):
    for bad in (["--max-tokens", "0"], ["--no-such-flag"]):  # argparse's own exit, and ours
        with pytest.raises(SystemExit) as e:
            run(srv, tmp_path, ["q0"], *bad)
        assert e.value.code == 2
    assert run(srv, tmp_path, ["q0"], "--wait") == 2
    assert srv.counts == {}
