"""`lmwrapper run --dry-run` counts prompts, unique prompts, cached and to send as the run
will (a repeated line is sent once, and is not "cached"), and writes nothing."""

import json

import pytest

from lmwrapper.cli.main import main
from lmwrapper.testing import FakeServer


@pytest.fixture
def srv(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-dry-test-key")
    with FakeServer() as s:
        yield s


def run(srv, tmp_path, lines, *args):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": p, "max_tokens": 5}) + "\n" for p in lines))
    return main(["--cache-dir", str(tmp_path / "c"), "run", "--model", "openai/gpt-5.4-mini",
                 "--base-url", srv.base_url, str(src), "-o", str(tmp_path / "out.jsonl"), *args])


def counts(out):
    line = next(x for x in out.splitlines() if x.startswith("prompts:"))
    words = line.replace(":", "").replace("to send", "send").split()
    return {words[i]: int(words[i + 1]) for i in range(0, 8, 2)}


def test_dry_run_counts_duplicates_once_and_not_as_cached(srv, tmp_path, capsys):
    lines = ["a", "b", "a", "c", "a"]
    assert run(srv, tmp_path, lines, "--dry-run") == 0
    assert counts(capsys.readouterr().out) == {"prompts": 5, "unique": 3, "cached": 0, "send": 3}
    assert not (tmp_path / "c").exists()  # a dry run writes nothing: no cache file
    assert srv.counts == {}
    assert run(srv, tmp_path, ["a", "b"]) == 0
    capsys.readouterr()
    assert run(srv, tmp_path, lines, "--dry-run") == 0
    assert counts(capsys.readouterr().out) == {"prompts": 5, "unique": 3, "cached": 2, "send": 1}
