"""Mistakes a new user makes on day one with `lmwrapper run` / `cache` / `batch`, found by
using the tool as one: each gets one line that names what is wrong and the fix."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-trial-key")
    with FakeServer(latency=0.0) as s:
        yield s


def run(srv, tmp_path, rows, *args):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, str(src), *args])


@pytest.mark.parametrize(("line", "expected"), [
    ({"promt": "hi", "id": 1}, ["did you mean 'prompt'", "'promt'"]),
    ({"Prompt": "hi"}, ["did you mean 'prompt'", "'Prompt'"]),
    ({"message": ["hi"]}, ["did you mean 'messages'"]),
    ({"question": "hi", "id": 1}, ["'question', 'id'", "rename"]),
    ({"prompt": "a", "text": "b"}, ["prompt and text", "exactly one"]),
])
def test_a_line_without_its_prompt_field_says_which_field_it_has(srv, tmp_path, capsys, line,
                                                                 expected):
    code = run(srv, tmp_path, [line])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "line 1" in err, err
    for needle in expected:
        assert needle in err, err
    assert srv.counts == {}


def test_batch_submit_names_the_wait_command_with_the_real_job_id(srv, tmp_path, capsys):
    code = run(srv, tmp_path, [{"prompt": "q0", "max_tokens": 5}], "--batch",
               "-o", str(tmp_path / "out.jsonl"))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "batch wait JOB" not in err, err
    command = shlex.split(err.split("(or wait: `")[1].split("`")[0])
    # the command the user copies names the cache directory given to run, and finds the job
    assert command[:3] == ["lmwrapper", "--cache-dir", str(tmp_path / "c")], command
    assert command[3:5] == ["batch", "wait"]
    assert main([*command[1:4], "status", command[5]]) == 0


def test_clear_errors_without_yes_reads_as_a_sentence(srv, tmp_path, capsys, monkeypatch):
    assert run(srv, tmp_path, [{"prompt": "q0", "max_tokens": 5}], "-o", str(tmp_path / "o")) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["--cache-dir", str(tmp_path / "c"), "cache", "clear", "--errors"]) == 2
    err = capsys.readouterr().err
    assert "refusing to delete error rows without --yes" in err, err


def test_a_lone_surrogate_is_refused_by_line_without_a_traceback(srv, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "ok \\ud83d\\ude00"}\n{"prompt": "bad \\ud800 here"}\n')
    code = main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, str(src)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "line 2" in err and "\\ud800" in err and "surrogate" in err, err
    assert srv.counts == {}


def test_a_utf8_bom_at_the_start_of_the_file_is_not_part_of_the_first_line(srv, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'\xef\xbb\xbf{"prompt": "q0", "id": "a", "max_tokens": 3}\n')
    out = tmp_path / "out.jsonl"
    code = main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, str(src), "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["id"] == "a"


def test_output_onto_the_input_file_is_refused_and_the_prompts_are_kept(srv, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    text = '{"prompt": "q0", "max_tokens": 3}\n'
    src.write_text(text)
    code = main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, str(src), "-o", str(tmp_path / "." / "in.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "is the input file" in err and "Traceback" not in err, err
    assert src.read_text() == text and srv.counts == {}


def test_ctrl_c_in_batch_wait_says_what_is_in_and_how_to_go_on(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-trial-key")
    with FakeServer(latency=0.0, batch_polls_per_step=10_000) as srv:  # never finishes
        src = tmp_path / "in.jsonl"
        src.write_text('{"prompt": "q0", "max_tokens": 3}\n')
        cache, url = str(tmp_path / "c"), srv.base_url
        assert main(["--cache-dir", cache, "run", "--model", "openai/gpt-5.4-mini", "--base-url",
                     srv.base_url, str(src), "--batch", "-o", str(tmp_path / "o.jsonl")]) == 0
        job = main_output(["--cache-dir", cache, "batch", "list"]).split()[0]
        polls = srv.count("batches.retrieve")
        env = {**os.environ, "LMWRAPPER_BATCH_POLL_S": "0.05", "LMWRAPPER_BATCH_POLL_MAX_S": "0.05"}
        proc = subprocess.Popen([sys.executable, "-m", "lmwrapper", "--cache-dir", cache, "batch",
                                 "wait", job, "--base-url", srv.base_url], stderr=subprocess.PIPE,
                                text=True, env=env)
        try:
            deadline = time.monotonic() + 120
            while srv.count("batches.retrieve") < polls + 2 and time.monotonic() < deadline:
                time.sleep(0.02)  # polling for the child to be waiting, not standing in for it
            assert srv.count("batches.retrieve") >= polls + 2, "the child never polled"
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:  # a failed assertion must not leave the child polling
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "0 done, 1 waiting" in err, err
    assert f"rerun `lmwrapper --cache-dir {cache} batch wait {job} --base-url {url}`" in err, err


def main_output(argv):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def test_cache_show_clips_a_long_prompt_keeping_its_end_and_full_shows_it(srv, tmp_path,
                                                                          capsys):
    question = "Q: what comes next? A:"
    text = "example " * 5000 + question
    assert run(srv, tmp_path, [{"prompt": text, "max_tokens": 3}], "-o", str(tmp_path / "o")) == 0
    capsys.readouterr()
    cache = ["--cache-dir", str(tmp_path / "c"), "cache", "show", "-n", "1"]
    assert main(cache) == 0
    out = capsys.readouterr().out
    assert len(out) < 2000 and question in out and "characters left out; --full" in out, out
    assert main([*cache, "--full"]) == 0
    assert text in capsys.readouterr().out
