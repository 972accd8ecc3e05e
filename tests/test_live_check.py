"""`make live-check` (scripts/live_check.py): skipped cleanly without keys; against the
loopback fake, every check (live text, live chat, a 2-line batch) works for each provider."""

import os
import subprocess
import sys
from pathlib import Path

import lmwrapper
from lmwrapper.testing import FakeServer

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "live_check.py"


def _run(env, *args):
    env = {**env, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1])}
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, check=False, stdin=subprocess.DEVNULL, timeout=300)


def _without_keys():
    return {k: v for k, v in os.environ.items()
            if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                         "ANTHROPIC_BASE_URL")}


def test_without_keys_it_says_so_sends_nothing_and_exits_0():
    with FakeServer() as srv:
        r = _run(_without_keys())
        assert srv.requests == []
    assert r.returncode == 0, r.stderr
    assert "openai skipped (no $OPENAI_API_KEY)" in r.stdout
    assert "anthropic skipped (no $ANTHROPIC_API_KEY)" in r.stdout
    assert "skipped, no API key set; nothing was sent" in r.stdout


def test_against_the_fake_every_check_works_for_every_provider():
    with FakeServer() as srv:
        r = _run({**_without_keys(), "OPENAI_API_KEY": "sk-live-check-test-0123456789",
                  "OPENAI_BASE_URL": srv.base_url, "ANTHROPIC_API_KEY": "sk-ant-live-check-test",
                  "ANTHROPIC_BASE_URL": srv.anthropic_base_url})
        counts = dict(srv.counts)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAILS" not in r.stdout
    for provider in ("openai/", "anthropic/"):
        for check in ("live: a text prompt", "live: a chat prompt", "batch: 2 lines"):
            assert any(provider in line and f"{check}: works" in line
                       for line in r.stdout.splitlines()), (provider, check, r.stdout)
    assert "every check works (openai, anthropic)" in r.stdout
    # a handful each: two live calls and one batch of two lines per provider
    assert counts["chat.completions"] == 2 and counts["batches.create"] == 1
    assert counts["messages"] == 2 and counts["messages.batches.create"] == 1


def test_one_key_checks_that_provider_and_skips_the_other():
    with FakeServer() as srv:
        r = _run({**_without_keys(), "OPENAI_API_KEY": "sk-live-check-test-0123456789",
                  "OPENAI_BASE_URL": srv.base_url})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "anthropic skipped" in r.stdout and "every check works (openai)" in r.stdout


def test_background_adds_one_background_prompt_where_the_provider_has_the_mode():
    with FakeServer() as srv:
        r = _run({**_without_keys(), "OPENAI_API_KEY": "sk-live-check-test-0123456789",
                  "OPENAI_BASE_URL": srv.base_url, "LMWRAPPER_BATCH_POLL_S": "0.01"},
                 "--background")
        counts = dict(srv.counts)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "background: 1 prompt (2h window): works" in r.stdout
    assert counts["responses.create"] == 1 and counts["responses.retrieve"] >= 1
