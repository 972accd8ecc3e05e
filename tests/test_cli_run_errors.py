"""`lmwrapper run` with bad input, bad flags and Ctrl-C: one clear line, a non-zero exit, nothing
sent and nothing lost. OpenAI runs go to the loopback `FakeServer`; Ctrl-C is a real SIGINT."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from cache_file import cache_stats

import lmwrapper
from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer

REPO = os.path.dirname(os.path.dirname(lmwrapper.__file__))


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-run-test-key")
    with FakeServer(latency=0.0) as s:
        yield s


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def one_line_error(capsys, code, expected):
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for needle in expected:
        assert needle in err, err
    return err


def run(srv, tmp_path, *args):
    return main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, *args])


def test_missing_input_file(srv, tmp_path, capsys):
    code = run(srv, tmp_path, str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    one_line_error(capsys, code, ["input file", "nope.jsonl", "does not exist"])
    assert srv.counts == {}


def test_missing_output_folder_is_found_before_anything_is_sent(srv, tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", ["What is 2+2?"])
    code = run(srv, tmp_path, src, "-o", str(tmp_path / "no" / "such" / "out.jsonl"))
    one_line_error(capsys, code, ["folder", str(tmp_path / "no" / "such"), "does not exist", "mkdir"])
    assert srv.counts == {}


def test_plain_text_line_names_the_line_and_the_fix(srv, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('"What is 2+2?"\nWhat is the capital of France?\n')
    code = run(srv, tmp_path, str(src), "-o", str(tmp_path / "out.jsonl"))
    one_line_error(capsys, code, ["line 2 is not JSON", '"What is the capital of France?"'])
    assert srv.counts == {}


@pytest.mark.parametrize("flag,value", [("--max-tokens", "-3"), ("--max-tokens", "0"),
                                        ("--temperature", "9"), ("--max-concurrency", "0"),
                                        ("--max-cost-usd", "-1")])
def test_bad_flag_is_blamed_on_the_flag_not_the_file(srv, tmp_path, capsys, flag, value):
    src = write_jsonl(tmp_path / "in.jsonl", ["What is 2+2?"])
    with pytest.raises(SystemExit) as e:  # argparse's exit for a flag it can check itself
        code = run(srv, tmp_path, src, f"{flag}={value}", "-o", str(tmp_path / "out.jsonl"))
        raise SystemExit(code)
    err = one_line_error(capsys, e.value.code, [flag])
    assert "line 1" not in err and "in.jsonl" not in err
    assert srv.counts == {}


@pytest.mark.parametrize("flag", [["--max-concurrency", "4"], ["--base-url", "http://127.0.0.1:9"]])
def test_api_flags_are_refused_for_a_local_model(tmp_path, capsys, flag):
    src = write_jsonl(tmp_path / "in.jsonl", ["What is 2+2?"])
    code = main(["run", "--model", "hf/HuggingFaceTB/SmolLM2-135M-Instruct", *flag, src, "--dry-run"])
    one_line_error(capsys, code, [flag[0], "does not apply", "local model"])


def test_batch_with_a_batch_engine_prices_at_the_batch_price(srv, tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "What is 2+2?", "max_tokens": 1000}])
    assert run(srv, tmp_path, src, "--dry-run") == 0
    live = capsys.readouterr().out
    assert run(srv, tmp_path, src, "--dry-run", "--batch") == 0
    captured = capsys.readouterr()
    assert "live price" not in captured.err

    def bound(out):
        line = next(x for x in out.splitlines() if x.startswith("cost upper bound"))
        return float(line.split("$")[1].split()[0])

    assert bound(captured.out) == pytest.approx(bound(live) / 2, rel=5e-3)  # 3 digits each


def test_batch_without_a_batch_engine_says_it_runs_live_and_prices_live(srv, tmp_path, capsys,
                                                                        monkeypatch):
    # a backend without a batch engine (a local model, say): simulated on the OpenAI backend
    # so the run can go against the fake
    from lmwrapper.openai_wrapper import OpenAiBackend

    monkeypatch.setattr(OpenAiBackend, "supports_batch", False)
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "What is 2+2?", "max_tokens": 1000}])
    assert run(srv, tmp_path, src, "--dry-run") == 0
    live = capsys.readouterr().out
    assert run(srv, tmp_path, src, "--dry-run", "--batch") == 0
    captured = capsys.readouterr()
    assert "live price" in captured.err and "--batch" in captured.err
    cost = [line for line in live.splitlines() if line.startswith("cost upper bound")]
    assert cost and cost[0] in captured.out  # not half of it
    out = tmp_path / "out.jsonl"
    assert run(srv, tmp_path, src, "--batch", "-o", str(out)) == 0
    assert "live price" in capsys.readouterr().err
    assert json.loads(out.read_text())["completion_text"] == "4"


def cli_process(srv, tmp_path, src, out):
    env = {**os.environ, "PYTHONPATH": REPO, "OPENAI_API_KEY": "sk-cli-run-test-key"}
    return subprocess.Popen(
        [sys.executable, "-m", "lmwrapper.cli.main", "--cache-dir", str(tmp_path / "c"), "run",
         "--model", "openai/gpt-5.4-mini", "--base-url", srv.base_url, "--max-concurrency", "4",
         "--max-tokens", "5", src, "-o", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ctrl_c_says_how_much_is_saved_and_a_rerun_resumes(srv, tmp_path):
    srv.latency = 0.05
    n = 400
    src = write_jsonl(tmp_path / "in.jsonl", [f"What is {i}+1?" for i in range(n)])
    out = tmp_path / "out.jsonl"
    proc = cli_process(srv, tmp_path, src, out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 10:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    line = [x for x in err.splitlines() if "answers saved" in x]
    assert line and line[0].endswith("answers saved; rerun the same command to resume"), err
    saved = int(line[0].split("interrupted; ")[1].split(" of ")[0])
    assert f"{saved} of {n} answers saved" in line[0]
    assert 10 <= saved < n
    rows = cache_stats(tmp_path / "c")["rows"]
    assert saved <= rows < n  # an answer may still land while the process exits, never fewer

    sent_before = srv.count("chat.completions")
    srv.latency = 0.0
    rerun = cli_process(srv, tmp_path, src, out)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert srv.count("chat.completions") - sent_before == n - rows  # only what was missing
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["completion_text"] for g in got] == [str(i + 1) for i in range(n)]


@pytest.mark.parametrize("window", ["asap", "batch_any"])
def test_ctrl_c_of_a_batch_run_says_its_batches_go_on(srv, tmp_path, capsys, window):
    """`run --batch --wait` stopped by Ctrl-C: the batches sent are at the provider, and
    will be paid as they finish; the message says so and how to stop them."""
    import argparse

    from lmwrapper.batch_config import CompletionWindow
    from lmwrapper.cli.run import _interrupted
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt

    lm = get_open_ai_lm("gpt-5.4-mini", base_url=srv.base_url, api_key_secret="sk-x",
                        cache_dir=tmp_path / "c")
    prompts = [LmPrompt(f"q{i}", max_tokens=5) for i in range(3)]
    assert _interrupted(lm, prompts, CompletionWindow(window),
                        argparse.Namespace(no_cache=False)) == 130
    err = capsys.readouterr().err
    assert "0 of 3 answers saved; rerun the same command to resume" in err
    assert ("go on at the provider" in err and "batch abandon JOB" in err) == (
        window == "batch_any"), err
    assert srv.counts == {}
