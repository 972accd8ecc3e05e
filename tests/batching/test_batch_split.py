"""A batch refused for holding too many requests (OpenAI's `too_many_tasks`, Anthropic's
"holds at most N requests") is split, as a byte or token limit is met: every prompt is
answered once, without LMWRAPPER_BATCH_MAX_REQUESTS set by hand. A step the provider refuses
for good (a 404 from a gateway without the batch API) stops with one clear error."""

from __future__ import annotations

import shlex

import pytest

from lmwrapper import LmWrapperError, ProviderError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.providers.classify import GoneError
from lmwrapper.structs import LmPrompt
from lmwrapper.testing.state import AnthropicLimits
from tests.batching.conftest import sent_texts

BATCH = CompletionWindow.BATCH_ANY


def qs(n):
    return [LmPrompt(f"q{i}", max_tokens=5, temperature=0) for i in range(n)]


def test_openai_too_many_tasks_is_split_and_every_prompt_answered(srv, make_lm):
    srv.fail_next_batch("too_many_tasks", "Too many tasks in this batch.")
    preds = list(make_lm().predict_many(qs(6), BATCH))
    assert not any(p.has_errors for p in preds) and len(preds) == 6
    assert srv.count("batches.create") == 3  # 6 refused (at validation: nothing billed), 3 + 3
    assert sorted(set(sent_texts(srv))) == [f"q{i}" for i in range(6)]


def test_anthropic_batch_past_its_request_limit_is_split(srv, provider_lm):
    if provider_lm.provider != "anthropic":
        pytest.skip("Anthropic refuses the create; OpenAI's case is above")
    srv.anthropic_limits = AnthropicLimits(batch_requests=2)
    preds = list(provider_lm().predict_many(qs(5), BATCH))
    assert not any(p.has_errors for p in preds) and len(preds) == 5
    assert srv.count("messages.batches.create") >= 3


def test_a_404_on_a_batch_step_stops_after_one_retry_with_a_clear_error(srv, make_lm):
    srv.inject("status", status=404, times=None, endpoint="files.create", retry_after=None,
               message="Not Found")
    with pytest.raises(LmWrapperError) as e:
        list(make_lm().predict_many(qs(2), BATCH))
    assert srv.count("files.create") == 2
    text = str(e.value)
    assert "the batch step stopped" in text and "twice" in text and "no batch API" in text
    assert "(POST /v1/files)" in text  # the request the provider refused
    assert isinstance(e.value, ProviderError) and e.value.status_code == 404


def test_a_batch_or_file_that_is_gone_says_404():
    """The runner reads the status, not the class name (`GoneError` is the providers')."""
    assert GoneError("batch_x not found").status_code == 404


def test_max_wait_gives_up_with_what_it_waits_for_and_a_rerun_collects(srv, make_lm,
                                                                       tmp_path, capsys,
                                                                       monkeypatch):
    import json

    from lmwrapper.cli.main import main
    from tests.batching.conftest import API_KEY

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    srv.batch_polls_per_step = 10**9  # the batch never moves on by itself
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"q{i}", "max_tokens": 5}) + "\n"
                           for i in range(2)))
    argv = ["run", "--model", "openai/gpt-4o-mini", "--base-url", srv.base_url, str(src),
            "-o", str(tmp_path / "out.jsonl"), "--batch", "--wait"]
    assert main([*argv, "--max-wait", "0.01"]) == 1
    err = capsys.readouterr().err
    assert "gave up waiting after 0.01 s" in err and "2 prompts still wait" in err
    job = err.split("batches of job ")[1].split()[0].rstrip(".(")
    # the command it names is the one to copy: the real job id and this cache's directory
    assert "batch wait JOB" not in err
    command = shlex.split(err.split("rerun, or `")[1].split("`")[0])
    assert command[0] == "lmwrapper" and command[-3:] == ["batch", "wait", job]
    assert main([*command[1:], "--max-wait", "0.01", "--base-url", srv.base_url]) == 1
    assert "gave up waiting" in capsys.readouterr().err
    srv.finish_batches()
    assert main(argv) == 0 and srv.count("batches.create") == 1


def test_a_batch_refused_with_its_limit_is_re_planned_at_that_limit(srv, provider_lm, caplog):
    """45 prompts, 20 a batch allowed: the 45 is refused with a message naming 20, and the
    rest is planned at 20 directly — 20 + 20 + 5, three batches accepted (halving took 8
    creates: 45, 22, 22, 11, 11, ...)."""
    if provider_lm.provider != "anthropic":
        pytest.skip("Anthropic refuses the create; OpenAI's case is above")
    srv.anthropic_limits = AnthropicLimits(batch_requests=20)
    with caplog.at_level("WARNING", logger="lmwrapper.runners.batch"):
        preds = list(provider_lm().predict_many(qs(45), BATCH))
    said = [r.getMessage() for r in caplog.records]
    assert any("re-planning at most 20 a batch" in m for m in said), said
    assert not any("refused to create" in m for m in said), said  # one line a split: its own
    assert not any(p.has_errors for p in preds) and len(preds) == 45
    accepted = [len(r.body["requests"]) for r in srv.requests
                if r.route == "messages.batches.create" and r.status == 200]
    assert sorted(accepted) == [5, 20, 20]
    assert srv.count("messages.batches.create") == 4  # the one refused (45), then 3


def test_a_refusal_without_a_number_halves_and_a_batch_planned_before_is_not_halved_again():
    """Without a number in the message: half, and a batch planned before an earlier split
    (larger than the limit now) is re-planned at that limit, not half of it."""
    from lmwrapper.runners.batch.adapter import BatchLimits
    from lmwrapper.runners.batch.runner import BatchRunner

    runner = BatchRunner.__new__(BatchRunner)  # the split alone: no provider, no cache
    runner.limits = BatchLimits(max_requests=100)
    runner.split_requests(45, "b1")
    assert runner.limits.max_requests == 22
    runner.split_requests(22, "b2")
    assert runner.limits.max_requests == 11
    runner.split_requests(22, "b3")  # planned at 22 before the last split
    assert runner.limits.max_requests == 11
    runner.split_requests(11, "b4", limit=4)  # a number: taken as it is
    assert runner.limits.max_requests == 4


def test_anthropic_reads_the_limit_from_its_refusal():
    from lmwrapper.providers.anthropic.errors import batch_request_limit, too_many_requests

    text = "requests: a Message Batch holds at most 100,000 requests; got 100,001."
    assert too_many_requests(400, text) and batch_request_limit(text) == 100_000
    assert not too_many_requests(413, text)
    assert too_many_requests(400, "too many requests in this batch")
    assert batch_request_limit("too many requests in this batch") is None
