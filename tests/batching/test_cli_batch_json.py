"""`lmwrapper batch list --json` and `batch status --json`, and `status` asking the provider."""

from __future__ import annotations

import json

import pytest

from lmwrapper.cli.main import main
from lmwrapper.structs import LmPrompt
from lmwrapper.tools.batch import submit_or_collect
from tests.batching.conftest import API_KEY


@pytest.fixture(autouse=True)
def key(monkeypatch, srv):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)  # the jobs' server is the one set here


def out_json(capsys, *args):
    assert main(["batch", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_json_is_an_array_of_jobs_with_their_line_counts(srv, make_lm, capsys):
    assert out_json(capsys, "list", "--json") == []
    job = submit_or_collect(make_lm(), [LmPrompt("q0", max_tokens=5)]).job_id
    [row] = out_json(capsys, "list", "--json")
    assert row["job"] == job and row["provider"] == "openai" and row["model"] == "gpt-4o-mini"
    assert row["lines"] == {"done": 0, "waiting": 1, "failed": 0, "abandoned": 0}


def test_status_asks_the_provider_unless_offline(srv, make_lm, capsys):
    job = submit_or_collect(make_lm(), [LmPrompt("q0", max_tokens=5)]).job_id
    stored = out_json(capsys, "status", job, "--json", "--offline")["batches"][0]
    assert stored["provider_status"] != "completed"
    srv.finish_batches()
    polls = srv.count("batches.retrieve")
    got = out_json(capsys, "status", job, "--json")
    assert srv.count("batches.retrieve") == polls + 1
    assert got["job"] == job and got["batches"][0]["provider_status"] == "completed"
    assert got["batches"][0]["remote_id"] in srv.state.batches
