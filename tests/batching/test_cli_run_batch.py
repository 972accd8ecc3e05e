"""`lmwrapper run --batch` as real subprocesses against the fake: submit and return, rerun to
collect (the output is written once every answer is in), `--wait` to wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.batching.conftest import API_KEY, sent_texts


def run_cli(srv, *args):
    env = {**os.environ, "OPENAI_API_KEY": API_KEY}
    return subprocess.run([sys.executable, "-m", "lmwrapper", "run", "--model", "openai/gpt-4o-mini",
                           "--base-url", srv.base_url, *args], check=False, capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)


def write_input(tmp_path, n=3):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "id": f"id{i}", "max_tokens": 5})
                            + "\n" for i in range(n)))
    return str(path)


def test_batch_submits_and_returns_then_a_rerun_collects_and_writes(srv, tmp_path):
    inp, out = write_input(tmp_path), tmp_path / "out.jsonl"
    first = run_cli(srv, inp, "--batch", "-o", str(out))
    assert first.returncode == 0, first.stderr
    assert "submitted job j" in first.stderr and "3 prompts wait" in first.stderr
    assert "rerun the same command" in first.stderr
    assert not out.exists() and srv.count("batches.create") == 1
    reruns = 0
    while not out.exists():  # the fake finishes a batch after a few polls: a few reruns
        reruns += 1
        assert reruns < 50
        r = run_cli(srv, inp, "--batch", "-o", str(out))
        assert r.returncode == 0, r.stderr
        assert "submitted" not in r.stderr  # a rerun collects; it never sends again
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["id0", "id1", "id2"]
    assert all(x["completion_text"] and x["batch_id"] for x in lines)
    assert srv.count("batches.create") == 1 and sorted(sent_texts(srv)) == ["q0", "q1", "q2"]


def test_batch_wait_waits_and_writes_in_one_call(srv, tmp_path):
    inp, out = write_input(tmp_path, 2), tmp_path / "out.jsonl"
    r = run_cli(srv, inp, "--batch", "--wait", "-o", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["id0", "id1"] and all(x["batch_id"] for x in lines)
    assert srv.count("batches.create") == 1


def test_wait_without_batch_and_submit_without_cache_are_refused(srv, tmp_path):
    inp = write_input(tmp_path)
    r = run_cli(srv, inp, "--wait")
    assert r.returncode == 2 and "--wait applies to --batch" in r.stderr
    r = run_cli(srv, inp, "--batch", "--no-cache")
    assert r.returncode == 2 and "add --wait" in r.stderr
    assert srv.count("batches.create") == 0
