"""The provider-agnostic live runner with a plain `send` function (no HTTP)."""

import threading
import time

import pytest

from lmwrapper import (
    MissingApiKeyError,
    PermanentProviderError,
    RateLimitError,
    RetryPolicy,
    TransientProviderError,
)
from lmwrapper.core.contract import Job
from lmwrapper.runners.live import LiveRunner
from lmwrapper.structs import LmPrediction, LmPrompt

FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.001, max_backoff_s=0.01)


def error_prediction(prompt, err):
    return LmPrediction(None, prompt, error_message=str(err), error_is_transient=err.transient)


def jobs(n, samples=1):
    return [Job(f"k{i}", LmPrompt(f"p{i}"), list(range(samples))) for i in range(n)]


def run(send, js, **kw):
    out, lock = {}, threading.Lock()

    def emit(job, preds):
        with lock:
            assert job.key not in out
            out[job.key] = list(preds)

    runner = LiveRunner(send, error_prediction=error_prediction, **kw)
    runner.run(js, emit, lambda: False)
    return out, runner


def ok(job):
    return [LmPrediction(f"answer {job.prompt.text}", job.prompt)] * len(job.sample_indices)


def test_every_job_answered_once_with_its_sample_count():
    out, runner = run(ok, jobs(50, samples=2), max_concurrency=7)
    assert len(out) == 50 and all(len(v) == 2 for v in out.values())
    assert runner.stats.requests == 50 and runner.stats.retries == 0


def test_transient_errors_retry_then_succeed_permanent_ones_do_not():
    tries = {}

    def send(job):
        tries[job.key] = tries.get(job.key, 0) + 1
        if job.key == "k0" and tries["k0"] < 3:
            raise TransientProviderError("flaky", status_code=500)
        if job.key == "k1":
            raise PermanentProviderError("too long", status_code=400)
        return ok(job)

    out, runner = run(send, jobs(3), retry=FAST)
    assert out["k0"][0].completion_text == "answer p0" and tries["k0"] == 3
    assert out["k1"][0].error_message == "too long" and tries["k1"] == 1
    assert runner.stats.attempts == {"k0": 3, "k1": 1, "k2": 1}


def test_attempts_never_exceed_one_plus_max_retries():
    def send(job):
        raise RateLimitError("slow down", status_code=429, retry_after=0.001)

    out, runner = run(send, jobs(10), retry=FAST, max_concurrency=4)
    assert all(v[0].error_is_transient for v in out.values())
    assert set(runner.stats.attempts.values()) == {1 + FAST.max_retries}
    assert "gave up after 4 attempts" in out["k0"][0].error_message


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after():
    import random

    policy = RetryPolicy(initial_backoff_s=1.0, max_backoff_s=8.0)
    rng = random.Random(0)
    err = TransientProviderError("x")
    for attempts, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay(err, attempts, rng) for _ in range(200)]
        assert cap / 2 <= min(delays) and max(delays) <= cap and max(delays) - min(delays) > cap / 4
    told = RateLimitError("x", retry_after=3.0)
    assert all(3.0 <= policy.delay(told, 1, rng) <= 3.31 for _ in range(100))


def test_a_waiting_retry_does_not_hold_a_worker():
    started = []

    def send(job):
        started.append((job.key, time.monotonic()))
        if job.key == "k0" and len([k for k, _ in started if k == "k0"]) == 1:
            raise TransientProviderError("later", retry_after=0.3)
        return ok(job)

    _out, _ = run(send, jobs(5), retry=FAST, max_concurrency=1)
    order = [k for k, _ in started]
    assert order[0] == "k0" and order[1:5] == ["k1", "k2", "k3", "k4"] and order[5] == "k0"


def test_configuration_errors_stop_the_run_and_are_raised():
    def send(job):
        raise MissingApiKeyError("no key")

    with pytest.raises(MissingApiKeyError):
        run(send, jobs(20), max_concurrency=4)


def test_should_stop_prevents_new_attempts():
    sent = []
    stop = threading.Event()

    def send(job):
        sent.append(job.key)
        if len(sent) >= 3:
            stop.set()
        time.sleep(0.01)
        return ok(job)

    emitted = []
    runner = LiveRunner(send, error_prediction=error_prediction, max_concurrency=2)
    runner.run(jobs(100), lambda j, p: emitted.append(j.key), stop.is_set)
    assert len(sent) <= 5 and sorted(emitted) == sorted(sent)


def test_a_retry_after_beyond_the_time_budget_gives_up_at_once():
    def send(job):
        raise RateLimitError("come back in an hour", status_code=429, retry_after=3600)

    start = time.monotonic()
    out, runner = run(send, jobs(2), retry=RetryPolicy(max_elapsed_s=5.0), max_concurrency=2)
    assert time.monotonic() - start < 30  # not the hour the server asked for
    assert set(out) == {"k0", "k1"} and all(v[0].error_is_transient for v in out.values())
    assert all(n == 1 for n in runner.stats.attempts.values())  # a job behind the pause: 0
