"""Size limits before money: a prompt larger than the provider takes in one request (or
batch line), or than the cache can store, is answered with a `RequestTooLargeError` naming
the limit and its source, before anything is sent; the other prompts run as usual.

Against the loopback fake, counting what it received. Limits are made small by giving a
model its own (`lm.size_limits`, the provider's numbers) or by lowering SQLite's own limit
on the cache's connection; one test sends a prompt just past Anthropic's real 32 MB.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from lmwrapper import CompletionWindow, LmPrompt
from lmwrapper.core.limits import SizeLimit
from lmwrapper.providers.anthropic.models import table as anthropic_table
from lmwrapper.providers.openai.models import table as openai_table
from lmwrapper.testing import FakeServer
from tests.api_providers import ANTHROPIC, OPENAI, PROVIDERS

SMALL = SizeLimit(2_000, "bytes", "a test's request", "this test")


def prompts(big: str) -> list[LmPrompt]:
    return [LmPrompt(f"What is {i}+1?", max_tokens=5, temperature=0) for i in range(3)] + [
        LmPrompt(big, max_tokens=5, temperature=0)]


def received(srv: FakeServer, text: str) -> int:
    """Requests whose body holds `text` (bodies parsed as the fake recorded them)."""
    return sum(text in json.dumps(r.body) for r in srv.requests)


def small_limit(lm, limit=SMALL):
    lm.size_limits = lambda batch: (limit,)  # the provider's numbers, made small
    return lm


@pytest.fixture
def srv():
    with FakeServer(latency=0.0) as s:
        yield s


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_a_prompt_over_the_request_limit_is_answered_with_an_error_and_never_sent(srv, provider):
    lm = small_limit(provider.make(srv, max_concurrency=2))
    big = "word " * 500  # 2,500 bytes
    preds = list(lm.predict_many(prompts(big)))
    assert [p.has_errors for p in preds] == [False, False, False, True]
    error = preds[3].error_message
    assert "2,000-byte limit of a test's request (this test)" in error
    assert "nothing was sent" in error and preds[3].error_is_transient
    assert received(srv, big) == 0 and srv.count(provider.route) == 3
    assert (lm.last_run.new, lm.last_run.failed) == (3, 1)
    # not cached: a rerun checks again (and sends nothing: the rest is cached)
    again = list(lm.predict_many(prompts(big)))
    assert again[3].has_errors and all(p.was_cached for p in again[:3])
    assert srv.count(provider.route) == 3


def test_predict_returns_the_refusal(srv):
    lm = small_limit(OPENAI.make(srv))
    pred = lm.predict(LmPrompt("y" * 3_000, max_tokens=5))
    assert pred.has_errors and "over the 2,000-byte limit" in pred.error_message
    assert lm.last_run.failed == 1
    assert srv.requests == []


def test_a_batch_line_over_the_limit_is_never_uploaded(srv):
    lm = small_limit(ANTHROPIC.make(srv))
    big = "line " * 500
    preds = list(lm.predict_many(prompts(big), CompletionWindow.BATCH_ANY))
    assert [p.has_errors for p in preds] == [False, False, False, True]
    assert "2,000-byte limit" in preds[3].error_message
    assert srv.count("messages.batches.create") == 1 and received(srv, big) == 0


def test_the_batch_window_asks_for_the_batch_limits(srv):
    seen = []

    def limits(batch):
        seen.append(batch)
        return ()

    lm = ANTHROPIC.make(srv)
    lm.size_limits = limits
    list(lm.predict_many(prompts("z"), CompletionWindow.BATCH_ANY))
    list(lm.predict_many([LmPrompt("live one", max_tokens=5)]))
    assert seen == [True, False]


def test_a_prompt_the_cache_cannot_store_is_not_bought(srv):
    """SQLite's own limit, lowered on the cache's connection: the prompt would have been
    sent, paid for, and then failed to store ("string or blob too big")."""
    lm = ANTHROPIC.make(srv)
    lm.cache._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 20_000)
    big = "store " * 4_000  # 24,000 bytes
    preds = list(lm.predict_many(prompts(big)))
    assert [p.has_errors for p in preds] == [False, False, False, True]
    assert "a prompt the cache can store" in preds[3].error_message
    assert "SQLITE_LIMIT_LENGTH" in preds[3].error_message
    assert received(srv, big) == 0
    # a prompt that is not cached is not held to the cache's limit
    uncached = LmPrompt(big, max_tokens=5, temperature=0, cache=False)
    assert not lm.predict(uncached).has_errors and received(srv, big) == 1


def test_just_past_anthropics_real_32_mb_nothing_is_sent(srv):
    limit = anthropic_table().sections["limits"]["request_bytes"]
    assert limit == 32_000_000  # the documented 32 MB (models.toml, with its source)
    lm = ANTHROPIC.make(srv)
    big = "x" * (limit + 1)
    preds = list(lm.predict_many([LmPrompt("small", max_tokens=5), LmPrompt(big, max_tokens=5)]))
    assert not preds[0].has_errors and preds[1].has_errors
    assert "32,000,000-byte limit of an Anthropic Messages request" in preds[1].error_message
    assert "docs.anthropic.com" in preds[1].error_message
    assert srv.count("messages") == 1 and len(srv.requests) == 1 and received(srv, "xxxx") == 0


def test_openai_limits_hold_for_its_own_server_only():
    from lmwrapper.openai_wrapper import get_open_ai_lm

    row = openai_table().sections["limits"]
    own = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-x")
    other = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-x", base_url="http://127.0.0.1:9/v1")
    assert [(x.most, x.unit) for x in own.size_limits(False)] == [(row["text_chars"], "characters")]
    assert other.size_limits(False) == ()
    assert [x.most for x in other.size_limits(True)] == [row["batch_file_bytes"]] == [200_000_000]


def test_dry_run_refuses_a_line_past_openais_text_limit_without_counting_it(tmp_path):
    """The honest size: one character past the 10,485,760 the OpenAPI spec allows a text."""
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps("x" * 10_485_761) + "\n" + json.dumps("small") + "\n")
    out = subprocess.run([sys.executable, "-m", "lmwrapper", "run", "--model",
                          "openai/gpt-4o-mini", str(path), "--dry-run"],
                         capture_output=True, text=True, check=True).stdout
    assert "to send: 1 (1 sample)" in out
    assert "refused: 1" in out and "10,485,760-character limit" in out
    counted = int(out.split("input tokens: ")[1].split()[0])
    assert counted < 100  # the refused line was not counted (nor priced)


def test_a_line_no_batch_can_hold_fails_alone_without_an_upload(srv, monkeypatch):
    """The batch runner's own check, on the exact line: a line over the bytes a batch input
    may hold (here lowered with the documented setting) is failed before planning, not
    uploaded alone to be refused, and the other lines go on."""
    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_BYTES", "2000")
    lm = ANTHROPIC.make(srv)
    big = "line " * 500
    preds = list(lm.predict_many(prompts(big), CompletionWindow.BATCH_ANY))
    assert [p.has_errors for p in preds] == [False, False, False, True]
    assert "over the 2,000 bytes a batch input may hold" in preds[3].error_message
    assert received(srv, big) == 0 and srv.count("messages.batches.create") >= 1
    again = list(lm.predict_many(prompts(big), CompletionWindow.BATCH_ANY))
    assert again[3].has_errors and all(p.was_cached for p in again[:3])


def test_a_long_text_is_counted_in_pieces_to_the_same_count():
    """tiktoken on one huge text is slow and holds a list of every token id: a long text is
    counted in pieces cut before spaces, which gives the same count."""
    from lmwrapper.providers.openai.tokens import _PIECE, get_encoding
    from lmwrapper.providers.openai.tokens import count_text_tokens as count

    words = ["alpha", "über", "naïve", "42", "don't", "a,b", "\n", "  ", "x1"]
    text = " ".join(words[(i * 7) % len(words)] for i in range(3 * _PIECE))
    whole = len(get_encoding("o200k_base").encode(text, disallowed_special=()))
    assert len(text) > 10 * _PIECE and count(text, "o200k_base") == whole
    one_word = "x" * (5 * _PIECE + 3)  # no space to cut at: within a token per cut
    exact = len(get_encoding("o200k_base").encode(one_word, disallowed_special=()))
    assert abs(count(one_word, "o200k_base") - exact) <= 5


def test_the_openai_fake_refuses_a_text_past_the_same_limit(srv):
    """The fake is no more lenient than the API: a message string past 10,485,760 characters
    is a 400 string_above_max_length, which a model on the fake (a server that is not
    OpenAI's own, so lmwrapper does not refuse it first) gets as the prompt's error."""
    from lmwrapper.testing.providers.openai import TEXT_MAX_CHARS

    assert TEXT_MAX_CHARS == openai_table().sections["limits"]["text_chars"]
    lm = OPENAI.make(srv)
    assert lm.size_limits(False) == ()
    pred = lm.predict(LmPrompt([" " * (TEXT_MAX_CHARS + 1)], max_tokens=5))
    assert pred.has_errors and "string_above_max_length" in pred.error_message
    assert "messages[0].content" in pred.error_message and srv.count("chat.completions") == 1
