"""predict_many through the scripted backend: order, dedupe, cache, samples, errors."""

import threading

import pytest
from cache_file import cache_stats

from lmwrapper import PermanentProviderError, RateLimitError
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedBackend, ScriptedLm


def texts(preds):
    return [p.completion_text for p in preds]


def test_results_come_back_in_input_order_and_duplicates_are_sent_once():
    lm = ScriptedLm()
    prompts = [LmPrompt(f"q{i % 7}", temperature=0) for i in range(50)]
    preds = list(lm.predict_many(prompts))
    assert texts(preds) == [f"echo: q{i % 7}" for i in range(50)]
    assert sorted(lm.call_log) == sorted(f"q{i}" for i in range(7))
    assert lm.last_run.new == 50 and lm.last_run.cached == 0


def test_rerun_is_served_from_the_cache_without_calls():
    first = list(ScriptedLm().predict_many([LmPrompt(f"q{i}") for i in range(20)]))
    lm = ScriptedLm()
    again = list(lm.predict_many([LmPrompt(f"q{i}") for i in range(20)]))
    assert lm.call_log == []
    assert texts(again) == texts(first) and all(p.was_cached for p in again)
    assert lm.last_run.cached == 20


def test_mixed_cached_and_new_only_sends_the_new():
    list(ScriptedLm().predict_many(["a", "b", "c"]))
    lm = ScriptedLm()
    preds = list(lm.predict_many(["a", "x", "b", "y", "c"]))
    assert lm.call_log == ["x", "y"]
    assert [p.was_cached for p in preds] == [True, False, True, False, True]


def test_model_identity_separates_caches():
    list(ScriptedLm("model-a").predict_many(["a"]))
    lm_b = ScriptedLm("model-b")
    list(lm_b.predict_many(["a"]))
    assert lm_b.call_log == ["a"]


def test_failures_are_predictions_permanent_cached_transient_not():
    lm = ScriptedLm()
    lm.enqueue("ok", PermanentProviderError("prompt too long"), RateLimitError("slow down"))
    preds = list(lm.predict_many(["p0", "p1", "p2", "p3"]))
    assert texts(preds)[0] == "ok" and not preds[0].has_errors
    assert preds[1].has_errors and "too long" in preds[1].error_message
    assert preds[2].has_errors and preds[2].error_is_transient
    assert not preds[3].has_errors
    assert lm.last_run.failed == 2 and lm.last_run.new == 2
    lm2 = ScriptedLm()
    again = list(lm2.predict_many(["p0", "p1", "p2", "p3"]))
    assert lm2.call_log == ["p2"]  # the transient failure is retried, the permanent one is not
    assert again[1].has_errors and again[1].was_cached
    assert not again[2].has_errors


def test_more_samples_later_sends_only_the_missing_ones():
    lm = ScriptedLm()
    three = lm.predict(LmPrompt("s", num_completions=3))
    assert len(three) == 3 and len(set(texts(three))) == 3
    assert [p.sample_index for p in three] == [0, 1, 2]
    lm2 = ScriptedLm()
    five = lm2.predict(LmPrompt("s", num_completions=5))
    assert lm2.call_log == ["s", "s"]
    assert texts(five)[:3] == texts(three)
    assert [p.was_cached for p in five] == [True] * 3 + [False] * 2
    lm3 = ScriptedLm()
    assert texts(lm3.predict(LmPrompt("s", num_completions=2))) == texts(three)[:2]
    assert lm3.call_log == []


def test_greedy_prompts_compute_one_sample_for_any_num_completions():
    lm = ScriptedLm()
    preds = lm.predict(LmPrompt("g", temperature=0, num_completions=4))
    assert lm.call_log == ["g"]
    assert len(preds) == 4 and len(set(texts(preds))) == 1


def test_single_vs_list_shape():
    lm = ScriptedLm()
    assert not isinstance(lm.predict("x"), list)
    assert isinstance(lm.predict(LmPrompt("x", num_completions=1)), list)


def test_cache_false_neither_reads_nor_writes():
    lm = ScriptedLm()
    list(lm.predict_many([LmPrompt("n", cache=False)] * 2))
    list(lm.predict_many([LmPrompt("n", cache=False)]))
    assert lm.call_log == ["n", "n"]
    assert cache_stats()["rows"] == 0
    off = ScriptedLm(cache_default=False)
    list(off.predict_many(["d", "d"]))
    list(off.predict_many([LmPrompt("d", cache=True)]))
    assert off.call_log == ["d", "d"]


class RefusesEcho(ScriptedBackend):
    def validate_prompt(self, prompt):
        if prompt.echo:
            raise ValueError("LmPrompt.echo is not supported by this model; set echo=False")


class RefusesEchoLm(ScriptedLm):
    backend_class = RefusesEcho


def test_every_prompt_is_validated_before_anything_is_sent():
    lm = RefusesEchoLm()
    with pytest.raises(ValueError, match="echo"):
        list(lm.predict_many([LmPrompt(f"q{i}") for i in range(10)] + [LmPrompt("e", echo=True)]))
    assert lm.call_log == []


def test_results_are_cached_before_the_caller_consumes_them():
    """A slow consumer does not hold back the runner: results reach the cache as they arrive."""
    lm = ScriptedLm()
    gen = lm.predict_many([LmPrompt(f"q{i}") for i in range(200)])
    first = next(gen)
    assert first.completion_text.startswith("echo: q0")
    deadline = threading.Event()
    for _ in range(200):
        if cache_stats()["rows"] == 200:
            break
        deadline.wait(0.05)
    assert cache_stats()["rows"] == 200
    assert len(list(gen)) == 199


def test_batch_any_runs_on_a_backend_without_a_batch_api():
    preds = list(ScriptedLm().predict_many(["a", "b"], completion_window=CompletionWindow.BATCH_ANY))
    assert texts(preds) == ["echo: a #1", "echo: b #2"]


def test_backend_crash_surfaces_to_the_caller():
    class BrokenBackend(ScriptedBackend):
        def _predict_samples(self, prompt, n):
            raise KeyError("bug in backend")

    class Broken(ScriptedLm):
        backend_class = BrokenBackend

    with pytest.raises(KeyError, match="bug in backend"):
        list(Broken().predict_many(["a"]))


def test_cost_limit_refuses_before_sending():
    from lmwrapper import CostEstimate, CostLimitExceededError

    class PricedBackend(ScriptedBackend):
        def estimate_cost(self, prompts, completion_window=CompletionWindow.ASAP, *, samples=None):
            n = sum(samples) if samples else len(prompts)
            return CostEstimate(len(prompts), 10 * n, 10 * n, 0.01 * n, 0.01 * n)

    class Priced(ScriptedLm):
        backend_class = PricedBackend

    lm = Priced(cost_per_call=0.02)
    with pytest.raises(CostLimitExceededError, match="max_cost_usd"):
        list(lm.predict_many(["a", "b", "c"], max_cost_usd=0.05))
    assert lm.call_log == []
    list(lm.predict_many(["a", "b"], max_cost_usd=0.05))
    list(lm.predict_many(["a", "b", "c"], max_cost_usd=0.05))  # only "c" is uncached now
    assert lm.call_log == ["a", "b", "c"]
    assert lm.last_run.saved_usd == pytest.approx(0.04) and lm.last_run.spent_usd == pytest.approx(0.02)


def test_progress_bar_counts_cached_new_failed(capsys):
    lm = ScriptedLm()
    list(lm.predict_many(["a", "b"]))
    lm.enqueue(PermanentProviderError("nope"))
    list(lm.predict_many(["a", "b", "c", "d", "c"], progress=True))
    err = capsys.readouterr().err
    assert "cached=2" in err and "failed=2" in err and "new=1" in err and "5/5" in err


def test_a_storage_failure_stops_the_run_and_reaches_the_caller(cache_dir):
    import sqlite3

    lm = ScriptedLm(delay=0.01)
    list(lm.predict_many(["warm"]))  # the cache file exists
    with lm.cache.write() as c:  # a trigger makes every later insert fail, as a full disk would
        c.execute("CREATE TRIGGER full BEFORE INSERT ON predictions "
                  "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk is full"):
        list(lm.predict_many([f"q{i}" for i in range(100)]))
    assert len(lm.call_log) < 50  # the backend was stopped, not left to spend


def test_cache_false_prompt_is_not_served_its_cached_twin():
    lm = ScriptedLm()
    first = lm.predict(LmPrompt("twin"))
    preds = list(lm.predict_many([LmPrompt("twin", cache=False), LmPrompt("twin")]))
    assert not preds[0].was_cached and preds[0].completion_text != first.completion_text
    assert preds[1].was_cached and preds[1].completion_text == first.completion_text
    fresh = ScriptedLm()
    list(fresh.predict_many([LmPrompt("new", cache=False), LmPrompt("new")]))
    assert fresh.call_log == ["new", "new"]  # one for each: the cached one is stored
    assert ScriptedLm().predict(LmPrompt("new")).was_cached
