"""Every batch state and fault the fake can program, for every provider with an adapter."""

from __future__ import annotations

import openai

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt
from tests.batching.conftest import run_runner, sent_lines, sent_texts

BATCH = CompletionWindow.BATCH_ANY


def qs(n, prefix="q"):
    return [LmPrompt(f"{prefix}{i}", max_tokens=5, temperature=0) for i in range(n)]


def stored(lm):
    return dict(lm.cache._conn.execute("SELECT key, is_error FROM predictions").fetchall())


def test_expired_batch_keeps_partial_output_and_resubmits_only_the_rest(srv, provider_lm):
    lm = provider_lm()
    srv.expire_next_batch(completed=2, provider=provider_lm.provider)
    preds = list(lm.predict_many(qs(5), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    batches = {}
    for bid, _, body in sent_lines(srv):
        batches.setdefault(bid, []).append(body["messages"][-1]["content"])
    first, second = sorted(batches.values(), key=len, reverse=True)
    assert len(first) == 5 and len(second) == 3 and set(second) < set(first)
    assert len(stored(lm)) == 5


def test_token_limit_failure_is_replanned_smaller_and_resubmitted(srv, make_lm):
    lm = make_lm()
    srv.fail_next_batch("token_limit_exceeded")
    preds = list(lm.predict_many(qs(4), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    assert srv.count("batches.create") == 2
    assert sorted(sent_texts(srv)) == sorted([f"q{i}" for i in range(4)] * 2)


def test_other_batch_failure_fails_only_that_batchs_prompts(srv, make_lm, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_REQUESTS", "2")
    lm = make_lm()
    srv.fail_next_batch("invalid_request", "the file is bad")
    preds = list(lm.predict_many(qs(4), completion_window=BATCH))
    failed = [p.prompt.text for p in preds if p.has_errors]
    assert len(failed) == 2 and all(p.error_is_transient for p in preds if p.has_errors)
    assert "invalid_request" in next(p.error_message for p in preds if p.has_errors)
    assert len(stored(lm)) == 2  # transient failures are not cached: a rerun sends them again
    again = list(lm.predict_many(qs(4), completion_window=BATCH))
    assert not any(p.has_errors for p in again)


def test_transient_line_errors_go_into_a_later_batch(srv, provider_lm):
    lm = provider_lm()
    srv.batch_line_errors(times=1, status=500, match="q3")
    preds = list(lm.predict_many(qs(5), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    assert sorted(sent_texts(srv)) == sorted([f"q{i}" for i in range(5)] + ["q3"])


def test_permanent_line_errors_become_cached_error_predictions(srv, provider_lm):
    lm = provider_lm()
    # Anthropic's errors have no code: its message says what the prompt did wrong
    srv.batch_line_errors(times=None, status=400, match="q1", code="context_length_exceeded",
                          message="prompt is too long: 210000 tokens > 200000 maximum")
    preds = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert [p.has_errors for p in preds] == [False, True, False]
    assert not preds[1].error_is_transient and "too long" in preds[1].error_message
    assert sum(stored(lm).values()) == 1
    again = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert again[1].was_cached and again[1].has_errors and len(sent_texts(srv)) == 3


def test_rejected_lines_fail_this_run_uncached_and_a_rerun_sends_them_again(srv, provider_lm):
    lm = provider_lm()
    srv.batch_line_errors(times=1, status=400, match="q1", message="unsupported parameter")
    preds = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert preds[1].has_errors and preds[1].error_is_transient
    assert sent_texts(srv).count("q1") == 1  # not resent in this run: it cannot help
    assert len(stored(lm)) == 2
    again = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert not again[1].has_errors and sent_texts(srv).count("q1") == 2


def test_transient_errors_stop_after_max_attempts_and_are_not_cached(srv, provider_lm, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_ATTEMPTS", "2")
    lm = provider_lm()
    srv.batch_line_errors(times=None, status=503, match="q0")
    preds = list(lm.predict_many(qs(2), completion_window=BATCH))
    assert preds[0].has_errors and preds[0].error_is_transient and not preds[1].has_errors
    assert sent_texts(srv).count("q0") == 2
    assert len(stored(lm)) == 1


def _cancel_all(srv):
    client = openai.OpenAI(base_url=srv.base_url, api_key="sk-x", max_retries=0)
    for b in client.batches.list().data:
        client.batches.cancel(b.id)


def test_batch_cancelled_outside_is_resubmitted_by_the_next_run(srv, make_lm):
    lm = make_lm()
    run_runner(lm, qs(4), should_stop=lambda: srv.count("batches.create") >= 1)
    _cancel_all(srv)
    preds = list(lm.predict_many(qs(4), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    # lines answered before the cancel are kept; only the others are sent again
    assert len(sent_texts(srv)) == 4 + 2


def test_cancelled_batch_is_not_resubmitted_when_the_setting_says_so(srv, make_lm, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_RESUBMIT_CANCELLED", "0")
    lm = make_lm()
    run_runner(lm, qs(4), should_stop=lambda: srv.count("batches.create") >= 1)
    _cancel_all(srv)
    preds = list(lm.predict_many(qs(4), completion_window=BATCH))
    assert sum(p.has_errors for p in preds) == 2
    assert all("cancelled" in p.error_message for p in preds if p.has_errors)
    assert len(sent_texts(srv)) == 4


def test_keep_files_setting_leaves_files_at_the_provider(srv, make_lm, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_KEEP_FILES", "1")
    list(make_lm().predict_many(qs(2), completion_window=BATCH))
    assert srv.count("files.delete") == 0


def test_stopping_run_does_not_wait_for_batches_and_a_rerun_adopts_them(srv, make_lm):
    lm = make_lm()
    got = run_runner(lm, qs(3), should_stop=lambda: srv.count("batches.create") >= 1)
    assert got == {}
    preds = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    assert srv.count("batches.create") == 1 and len(sent_texts(srv)) == 3


def test_enqueued_token_limit_at_the_provider_is_met_by_halving_and_queueing(make_lm):
    from lmwrapper.testing import FakeServer

    with FakeServer(batch_token_limit=40) as small:  # the fake counts prompt tokens
        lm = make_lm(base_url=small.base_url)
        ps = [LmPrompt(f"word{i} " * 6, max_tokens=2, temperature=0) for i in range(8)]
        preds = list(lm.predict_many(ps, completion_window=BATCH))
        assert not any(p.has_errors for p in preds)
        with small.lock:
            jobs = list(small.state.batches.values())
        failed = [j for j in jobs if j.status == "failed"]
        assert failed and failed[0].fail_errors[0]["code"] == "token_limit_exceeded"
        done = [j for j in jobs if j.status == "completed"]
        assert sum(len(j.requests) for j in done) == 8 and len(done) >= 2


def test_an_answer_lost_after_the_provider_acted_does_not_duplicate_work(srv, make_lm):
    import time

    lm = make_lm()
    srv.lose_responses(times=1, endpoint="files.create")  # uploaded; the client never hears
    srv.lose_responses(times=1, endpoint="batches.create")  # created; the client never hears
    srv.server_error(times=2, endpoint="batches.retrieve")  # polls fail for a while
    t = time.monotonic()
    preds = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert not any(p.has_errors for p in preds) and time.monotonic() - t < 60
    assert srv.count("batches.create") == 1 and len(srv.state.batches) == 1
    assert sorted(sent_texts(srv)) == ["q0", "q1", "q2"]
    assert srv.state.files == {}  # the lost upload was found and deleted, the rest cleaned up


def test_batch_cancelled_during_the_run_is_resubmitted_in_the_same_run(srv, make_lm):
    import threading
    import time

    srv.batch_polls_per_step = 10**9  # the batch cannot move on until it is cancelled
    lm = make_lm()
    client = openai.OpenAI(base_url=srv.base_url, api_key="sk-x", max_retries=0)
    cancelled = threading.Event()

    def cancel_when_running():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not cancelled.is_set():
            for b in client.batches.list().data:
                if b.status in ("validating", "in_progress"):
                    client.batches.cancel(b.id)
                    cancelled.set()
                    srv.batch_polls_per_step = 1  # from now on, one step per poll
            time.sleep(0.005)

    t = threading.Thread(target=cancel_when_running)
    t.start()
    preds = list(lm.predict_many(qs(4), completion_window=BATCH))
    t.join()
    assert cancelled.is_set() and not any(p.has_errors for p in preds)
    # the lines the cancel left unanswered went into a second batch of the same run
    assert srv.count("batches.create") == 2 and 4 < len(sent_texts(srv)) <= 8


def test_results_deleted_at_the_provider_fail_those_prompts_and_a_rerun_resends(srv, make_lm):
    lm = make_lm()
    run_runner(lm, qs(2), should_stop=lambda: srv.count("batches.create") >= 1)
    srv.finish_batches()
    client = openai.OpenAI(base_url=srv.base_url, api_key="sk-x", max_retries=0)
    [b] = client.batches.list().data
    client.files.delete(b.output_file_id)  # e.g. removed by hand in the dashboard
    preds = list(lm.predict_many(qs(2), completion_window=BATCH))
    assert all(p.has_errors and p.error_is_transient for p in preds)
    assert "could not be read" in preds[0].error_message
    again = list(lm.predict_many(qs(2), completion_window=BATCH))
    assert not any(p.has_errors for p in again) and srv.count("batches.create") == 2


def test_a_create_whose_answer_is_lost_is_looked_up_not_created_again(srv, provider_lm):
    """Both providers: the create reaches the server, its answer does not reach us."""
    lm = provider_lm()
    route = "batches.create" if provider_lm.provider == "openai" else "messages.batches.create"
    srv.lose_responses(times=1, endpoint=route)
    preds = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    assert len(srv.state.batches) == 1 and sorted(sent_texts_any(srv)) == ["q0", "q1", "q2"]


def test_a_create_that_times_out_and_lands_later_is_adopted_not_created_again(srv, provider_lm):
    """The create times out at the client; the server creates the batch after that. The
    retry gives it time, finds it (metadata / shape) and adopts it: one batch, each line once."""
    lm = provider_lm(timeout_s=1.0)
    route = "batches.create" if provider_lm.provider == "openai" else "messages.batches.create"
    srv.slow_responses(1.3, times=1, endpoint=route)
    preds = list(lm.predict_many(qs(3), completion_window=BATCH))
    assert not any(p.has_errors for p in preds)
    assert srv.count(route) == 1  # the create was not sent again
    assert len(srv.state.batches) == 1 and sorted(sent_texts_any(srv)) == ["q0", "q1", "q2"]


def sent_texts_any(srv):
    """The last user message of every line every batch received (either provider's body)."""
    from tests.batching.conftest import sent_lines

    out = []
    for _, _, body in sent_lines(srv):
        content = body["messages"][-1]["content"]
        out.append(content if isinstance(content, str) else content[0]["text"])
    return out
