"""What goes into the batch lines: duplicates once, samples through `n`, only missing ones."""

from __future__ import annotations

import json

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.providers.openai.request import build_request
from lmwrapper.structs import LmPrompt
from tests.batching.conftest import sent_lines, sent_texts

BATCH = CompletionWindow.BATCH_ANY


def test_duplicate_prompts_are_sent_once(srv, make_lm):
    lm = make_lm()
    ps = [LmPrompt(f"q{i % 3}", max_tokens=5, temperature=0) for i in range(9)]
    preds = list(lm.predict_many(ps, completion_window=BATCH))
    assert sorted(sent_texts(srv)) == ["q0", "q1", "q2"]
    assert [p.completion_text for p in preds[:3]] == [p.completion_text for p in preds[3:6]]


def test_samples_go_as_n_and_only_missing_samples_are_sent(srv, make_lm):
    lm = make_lm()
    three = LmPrompt("tell a story", max_tokens=5, temperature=1.0, num_completions=3)
    first = next(iter(lm.predict_many([three], completion_window=BATCH)))
    assert len(first) == 3
    assert [body.get("n") for _, _, body in sent_lines(srv)] == [3]
    five = LmPrompt("tell a story", max_tokens=5, temperature=1.0, num_completions=5)
    second = next(iter(lm.predict_many([five], completion_window=BATCH)))
    assert [p.sample_index for p in second] == [0, 1, 2, 3, 4]
    assert [p.completion_text for p in second[:3]] == [p.completion_text for p in first]
    assert [body.get("n") for _, _, body in sent_lines(srv)] == [3, 2]


def test_batch_line_body_is_the_live_request_body(srv, make_lm):
    lm = make_lm()
    p = LmPrompt("hi", max_tokens=7, temperature=0.3, stop=["\n"], logprobs=2, seed=4)
    list(lm.predict_many([p], completion_window=BATCH))
    [(_, cid, body)] = sent_lines(srv)
    assert body == build_request(p, lm.model).body
    assert len(cid) <= 64 and all(c.isalnum() or c in "-_" for c in cid)


def test_each_batch_carries_metadata_naming_its_job(srv, make_lm):
    lm = make_lm()
    list(lm.predict_many([LmPrompt("a", max_tokens=3, temperature=0)], completion_window=BATCH))
    import openai

    client = openai.OpenAI(base_url=srv.base_url, api_key="sk-x")
    [b] = client.batches.list().data
    assert set(b.metadata) == {"lmwrapper_job", "lmwrapper_batch"}
    db_jobs = lm.cache._conn.execute("SELECT job_id FROM batch_jobs").fetchall()
    assert [(b.metadata["lmwrapper_job"],)] == db_jobs
    assert json.dumps(b.metadata)  # plain strings


def test_results_are_emitted_when_their_batch_completes_not_when_all_do(srv, make_lm, monkeypatch):
    from lmwrapper.runners.batch import batch_runner
    from tests.batching.conftest import jobs_for

    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_REQUESTS", "2")
    lm = make_lm()
    seen = []

    def emit(job, preds):
        with srv.lock:
            seen.append(sorted(j.status for j in srv.state.batches.values()))

    runner = batch_runner(lm, lm.cache)
    runner.run(jobs_for(lm, [LmPrompt(f"q{i}", max_tokens=5, temperature=0) for i in range(4)]),
               emit, lambda: False)
    assert len(seen) == 4 and runner.in_flight() == 0
    assert seen[0] != ["completed", "completed"]  # the other batch was still running


def test_status_counts_batches_and_the_bar_shows_them_when_asked(srv, make_lm, capsys):
    from lmwrapper.runners.batch import batch_runner
    from tests.batching.conftest import jobs_for

    lm = make_lm()
    runner = batch_runner(lm, lm.cache)
    runner.show_progress = True
    runner.run(jobs_for(lm, [LmPrompt("a", max_tokens=3, temperature=0)]), lambda *_: None,
               lambda: False)
    assert runner.status() == {"completed": 1}
    err = capsys.readouterr().err
    assert "lmwrapper batch" in err and "completed" in err and "est_cost" in err
