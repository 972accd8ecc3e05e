"""`lmwrapper batch cancel | abandon | resume`: a cancelled job's next step is priced, an
abandoned one is resent by neither `batch wait` nor a rerun until `resume` (the fake counts
every batch created)."""

from __future__ import annotations

import json

import pytest

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.cli.main import main
from lmwrapper.structs import LmPrompt
from lmwrapper.tools.batch import submit_or_collect
from tests.batching.conftest import API_KEY


@pytest.fixture(autouse=True)
def key(monkeypatch, srv):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)  # the jobs' server is the one set here


def qs(n):
    return [LmPrompt(f"q{i}", max_tokens=5, temperature=0) for i in range(n)]


def batch(capsys, *args):
    code = main(["batch", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cancel_says_what_wait_and_abandon_would_cost(srv, make_lm, capsys):
    job = submit_or_collect(make_lm(), qs(4)).job_id
    code, text = batch(capsys, "cancel", job)
    assert code == 0 and srv.count("batches.cancel") == 1
    assert "cancelled 1 batch " in text and "4 waiting prompts" in text
    assert f"batch wait {job}" in text and "up to $0.0000" in text and "batch price" in text
    assert f"batch abandon {job}" in text and "sends nothing more: $0" in text


def test_abandoned_job_is_resent_by_neither_wait_nor_a_rerun_until_resumed(srv, make_lm, capsys):
    lm = make_lm()
    job = submit_or_collect(lm, qs(4)).job_id
    code, text = batch(capsys, "abandon", job)
    assert code == 0 and srv.count("batches.cancel") == 1
    assert f"abandoned job {job}" in text and f"batch resume {job}" in text

    code, text = batch(capsys, "wait", job)  # collects what the cancel left; sends nothing
    assert code == 1 and srv.count("batches.create") == 1, text
    code, text = batch(capsys, "status", job, "--json")
    lines = json.loads(text)["lines"]
    assert lines["done"] + lines["abandoned"] == 4 and lines["waiting"] == 0

    preds = list(lm.predict_many(qs(4), CompletionWindow.BATCH_ANY))  # a rerun: nothing sent
    assert srv.count("batches.create") == 1
    errors = [p for p in preds if p.has_errors]
    assert len(errors) == lines["abandoned"]
    assert all("abandoned" in p.error_message and f"batch resume {job}" in p.error_message
               for p in errors)

    code, text = batch(capsys, "resume", job)
    assert code == 0 and f"{lines['abandoned']} abandoned lines will be sent again" in text
    code, text = batch(capsys, "wait", job)
    assert code == 0 and srv.count("batches.create") == 2, text
    preds = list(lm.predict_many(qs(4), CompletionWindow.BATCH_ANY))
    assert all(p.was_cached and not p.has_errors for p in preds)


def test_cancel_abandon_is_abandon(srv, make_lm, capsys):
    lm = make_lm()
    job = submit_or_collect(lm, qs(2)).job_id
    code, text = batch(capsys, "cancel", "--abandon", job)
    assert code == 0 and f"abandoned job {job}" in text


def test_run_batch_rerun_of_an_abandoned_job_writes_its_lines_as_errors(srv, make_lm, capsys,
                                                                        tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"q{i}", "max_tokens": 5}) + "\n"
                           for i in range(3)))
    out = tmp_path / "out.jsonl"
    argv = ["run", "--model", "openai/gpt-4o-mini", "--base-url", srv.base_url, str(src),
            "-o", str(out), "--batch"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["batch", "list", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)[0]["job"]
    assert batch(capsys, "abandon", job)[0] == 0
    assert main(argv) == 1  # written: what was answered, and the rest as "abandoned" errors
    err = capsys.readouterr().err
    assert "abandoned job" in err and "prompts failed" in err
    assert len(out.read_text().splitlines()) == 3 and srv.count("batches.create") == 1


def test_cancel_of_a_job_whose_batches_ended_says_nothing_was_cancelled(srv, make_lm, capsys):
    job = submit_or_collect(make_lm(), qs(3)).job_id
    srv.finish_batches()  # answered at the provider, not collected yet
    code, text = batch(capsys, "cancel", job)
    assert code == 0 and srv.count("batches.cancel") == 0
    assert "no batch running at the provider: nothing was cancelled" in text, text
    assert "cancelled 0 batches" not in text and "3 waiting prompts" in text
    code, text = batch(capsys, "wait", job)  # collects the answers; sends nothing again
    assert code == 0 and srv.count("batches.create") == 1, text


def test_abandon_names_the_resume_command_with_the_cache_directory(srv, make_lm, capsys,
                                                                    tmp_path):
    job = submit_or_collect(make_lm(), qs(2)).job_id
    code, text = batch(capsys, "abandon", job)  # the default cache: no --cache-dir to name
    assert code == 0 and f"`lmwrapper batch resume {job}`" in text
    other = tmp_path / "elsewhere"
    code = main(["--cache-dir", str(other), "run", "--model", "openai/gpt-4o-mini",
                 "--base-url", srv.base_url, str(_prompts_file(tmp_path)), "-o",
                 str(tmp_path / "o.jsonl"), "--batch"])
    assert code == 0
    capsys.readouterr()
    assert main(["--cache-dir", str(other), "batch", "list", "--json"]) == 0
    job2 = json.loads(capsys.readouterr().out)[0]["job"]
    assert main(["--cache-dir", str(other), "batch", "abandon", job2]) == 0
    assert f"lmwrapper --cache-dir {other} batch resume {job2}" in capsys.readouterr().out


def _prompts_file(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"r{i}", "max_tokens": 5}) + "\n"
                           for i in range(2)))
    return src


@pytest.mark.parametrize("command", [["list"], ["list", "--json"], ["status", "j0"],
                                     ["wait", "j0"], ["cancel", "j0"]])
def test_batch_commands_on_a_missing_cache_say_so_and_create_nothing(tmp_path, capsys, command):
    where = tmp_path / "mistyped"
    code = main(["--cache-dir", str(where), "batch", *command])
    out = capsys.readouterr()
    assert code == (0 if command[0] == "list" else 2)  # no jobs there / an unknown job
    assert "no cache file at" in out.err and str(where) in out.err, out.err
    assert out.out == ("[]\n" if "--json" in command else "")
    assert not where.exists()
