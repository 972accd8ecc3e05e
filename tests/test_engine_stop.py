"""Routing, starting and stopping a run: work starts in predict_many, planning starts nothing,
and leaving early sends nothing new but stores every answer to a request already sent."""

import re
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from cache_file import cache_stats

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.core.contract import SequentialRunner
from lmwrapper.engine.plan import estimate_run, uncached
from lmwrapper.runners.live import LiveRunner
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import ScriptedBackend, ScriptedLm

DEADLINE_S = 30  # generous: the suite runs on a loaded 2-core machine


def wait_until(condition, what):
    tick = threading.Event()
    for _ in range(int(DEADLINE_S / 0.01)):
        if condition():
            return
        tick.wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Gated(ScriptedBackend):
    """A real LiveRunner, up to 4 requests in flight."""

    def live_runner(self):
        return LiveRunner(lambda job: self._predict_samples(job.prompt, len(job.sample_indices)),
                          error_prediction=self.error_prediction, max_concurrency=4)


class GatedLm(ScriptedLm):
    """Answers block until `gate` opens; a real LiveRunner keeps up to 4 requests in flight."""

    backend_class = Gated

    def __init__(self, gate):
        super().__init__(answer=lambda prompt, n: (gate.wait(DEADLINE_S), "ok")[1])


class OpensGateOnNote:
    """Stands in for sys.stderr: keeps what is written, and opens the gate when the engine
    says what it waits for (so the stopping run really has requests in flight)."""

    def __init__(self, gate):
        self.gate, self.text = gate, ""

    def write(self, s):
        self.text += s
        if "waiting for" in s:
            self.gate.set()
        return len(s)

    def flush(self):
        pass


def gated(monkeypatch):
    """A GatedLm with q0 cached (so the first next() returns at once), its gate closed until
    the engine's stop note is written, and that note's stream. (Called in the test body:
    pytest sets its own sys.stderr again between a fixture's setup and the test.)"""
    gate = threading.Event()
    lm = GatedLm(gate)
    gate.set()
    list(lm.predict_many(prompts(1)))
    gate.clear()
    stderr = OpensGateOnNote(gate)
    monkeypatch.setattr(sys, "stderr", stderr)
    return lm, stderr


def in_flight_note(stderr, sent):
    """The note names the count when the runner tells it (`Runner.in_flight`)."""
    m = re.search(r"waiting for (\d+) requests? already sent|waiting for the requests", stderr.text)
    assert m, stderr.text
    assert m.group(1) is None or int(m.group(1)) == len(sent)


def prompts(n):
    return [LmPrompt(f"q{i}", max_tokens=5) for i in range(n)]


def stored_texts(lm, texts):
    """Which of `texts` the cache answers for `lm` (asked without sending anything)."""
    todo, _ = uncached(lm, [LmPrompt(t, max_tokens=5) for t in texts])
    return set(texts) - {p.text for p in todo}


def test_work_starts_in_predict_many_but_planning_starts_nothing():
    lm = ScriptedLm()
    before = {t.name for t in threading.enumerate()}
    todo, samples = uncached(lm, prompts(3))
    assert len(todo) == 3 and samples == [1, 1, 1]
    assert estimate_run(lm, prompts(3)).prompts == 3
    assert lm.call_log == [] and lm.last_run is None
    assert not {t.name for t in threading.enumerate()} - before
    results = lm.predict_many(prompts(5))
    wait_until(lambda: len(lm.call_log) == 5, "the run to answer without being iterated")
    assert lm.last_run is results.summary and lm.last_run.state == "running"
    assert len(list(results)) == 5 and lm.last_run.state == "finished"


def test_last_run_is_set_when_zip_stops_short():
    """The README's "A dataset at once": zip never asks for a fourth prediction."""
    lm = ScriptedLm()
    data = ["France", "Peru", "Chad"]
    predictions = lm.predict_many([f"capital of {c}?" for c in data])
    for country, pred in zip(data, predictions):
        assert country in pred.completion_text
    assert str(lm.last_run).startswith("3 prompts: 0 cached, 3 new, 0 failed; spent $0.00")
    assert "stopped" not in str(lm.last_run)


def test_break_sends_nothing_new_and_stores_what_was_in_flight(monkeypatch):
    lm, stderr = gated(monkeypatch)
    for pred in lm.predict_many(prompts(40)):
        assert pred.was_cached
        wait_until(lambda: len(lm.call_log) >= 2, "requests in flight")
        break
    sent = lm.call_log[1:]
    assert 1 <= len(sent) <= 4  # the ones in flight; nothing new after the break
    assert stored_texts(lm, [p.text for p in prompts(40)]) == {"q0", *sent}
    in_flight_note(stderr, sent)
    assert lm.last_run.state == "stopped early"
    assert f"stopped early: {39 - len(sent)} of 40 prompts not answered" in str(lm.last_run)


def test_an_exception_in_the_callers_loop_stops_and_stores(monkeypatch):
    lm, stderr = gated(monkeypatch)
    with pytest.raises(ZeroDivisionError):
        for _ in lm.predict_many(prompts(30)):
            wait_until(lambda: len(lm.call_log) >= 2, "requests in flight")
            raise ZeroDivisionError("a bug in the caller's loop")
    sent = lm.call_log[1:]
    assert 1 <= len(sent) <= 4
    assert stored_texts(lm, [p.text for p in prompts(30)]) == {"q0", *sent}
    in_flight_note(stderr, sent)
    assert lm.last_run.state == "stopped early"


def test_stopping_with_nothing_in_flight_returns_without_a_note(capsys):
    lm = ScriptedLm()
    list(lm.predict_many(prompts(3)))
    with lm.predict_many(prompts(3) + [LmPrompt("late", max_tokens=5)]) as results:
        next(results)
        wait_until(lambda: not results._run._threads[0].is_alive(), "the runner to finish")
    assert "waiting for" not in capsys.readouterr().err
    assert lm.last_run.state == "stopped early"


def test_batch_any_without_batch_support_runs_the_normal_runner():
    lm = ScriptedLm()
    results = lm.predict_many(prompts(2), completion_window=CompletionWindow.BATCH_ANY)
    assert isinstance(results._run.runner, SequentialRunner)  # ScriptedLm's live runner
    assert len(list(results)) == 2
    seen = []

    class Loop(ScriptedBackend):  # no live runner: the backend's own loop, told the window
        def live_runner(self):
            return None

        def _run(self, jobs, window, emit, should_stop):
            seen.append(window)
            super()._run(jobs, window, emit, should_stop)

    class LoopLm(ScriptedLm):
        backend_class = Loop

    assert len(list(LoopLm("loop").predict_many(prompts(2), CompletionWindow.BATCH_ANY))) == 2
    assert seen == [CompletionWindow.BATCH_ANY]


def test_batch_any_with_batch_support_goes_to_the_batch_engine(monkeypatch):
    calls = []

    def batch_runner(lm, cache):
        calls.append((lm, cache))
        return SequentialRunner(lambda p, n: [lm._one(p) for _ in range(n)])

    monkeypatch.setattr("lmwrapper.engine.run.batch_runner", batch_runner)

    class Batch(ScriptedBackend):
        supports_batch = True

    class BatchLm(ScriptedLm):
        backend_class = Batch

    lm = BatchLm()
    assert len(list(lm.predict_many(prompts(2), completion_window=CompletionWindow.BATCH_ANY))) == 2
    assert calls == [(lm.backend, lm.cache)]
    list(lm.predict_many(prompts(3)))  # ASAP: the live runner, not the batch engine
    assert len(calls) == 1


def read_until(stream, text):
    """The first line of `stream` holding `text` ("" if none by the deadline), read on a
    thread so that a hung child fails the test instead of hanging it."""
    found, done = [], threading.Event()

    def read():
        for line in stream:
            if text in line:
                found.append(line)
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(DEADLINE_S)
    return found[0] if found else ""


CTRL_C_CHILD = textwrap.dedent("""
    import pathlib, sys, threading
    from lmwrapper.testing import ScriptedLm

    gate = pathlib.Path(sys.argv[1])

    def answer(prompt, n):
        print("started", prompt.text, flush=True)
        tick = threading.Event()
        while not gate.exists():  # the parent opens the gate once it saw the stop note
            tick.wait(0.01)
        return "answered"

    lm = ScriptedLm(answer=answer)
    try:
        for pred in lm.predict_many([f"q{i}" for i in range(50)]):
            print("got", pred.prompt.text, flush=True)
    except KeyboardInterrupt:
        print("interrupted:", lm.last_run, flush=True)
""")


def test_ctrl_c_waits_for_the_request_in_flight_and_stores_it(tmp_path, cache_dir):
    gate = tmp_path / "gate"
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD, str(gate)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert read_until(proc.stdout, "started").strip() == "started q0"
        proc.send_signal(signal.SIGINT)
        assert "waiting for 1 request already sent" in read_until(proc.stderr, "waiting for")
        gate.touch()
        out, _ = proc.communicate(timeout=DEADLINE_S)
    finally:
        proc.kill()
    assert "interrupted: 50 prompts: 0 cached, 1 new" in out and "stopped early" in out
    assert "started" not in out  # no request started after Ctrl-C
    assert cache_stats(cache_dir)["rows"] == 1


EXIT_CHILD = textwrap.dedent("""
    import pathlib, sys, threading
    from lmwrapper.testing import ScriptedLm

    gate, started = pathlib.Path(sys.argv[1]), threading.Event()

    def answer(prompt, n):
        started.set()
        tick = threading.Event()
        while not gate.exists():
            tick.wait(0.01)
        return "answered"

    lm = ScriptedLm(answer=answer)
    results = lm.predict_many([f"q{i}" for i in range(50)])  # never iterated
    started.wait(60)
    print("leaving", flush=True)
""")


def test_a_script_that_ends_without_iterating_stores_what_was_sent(tmp_path, cache_dir):
    gate = tmp_path / "gate"
    proc = subprocess.Popen([sys.executable, "-c", EXIT_CHILD, str(gate)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert read_until(proc.stdout, "leaving")
        assert "waiting for 1 request already sent" in read_until(proc.stderr, "waiting for")
        gate.touch()
        proc.communicate(timeout=DEADLINE_S)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert cache_stats(cache_dir)["rows"] == 1


def test_a_second_ctrl_c_abandons_the_wait(tmp_path, cache_dir):
    gate = tmp_path / "never-opened"
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD, str(gate)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert read_until(proc.stdout, "started").strip() == "started q0"
        proc.send_signal(signal.SIGINT)
        assert read_until(proc.stderr, "waiting for")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=DEADLINE_S)  # returns although q0 never answers
    finally:
        proc.kill()
    assert "interrupted:" in out and "stopped early" in out
    assert cache_stats(cache_dir)["rows"] == 0


def test_ctrl_c_while_the_run_starts_sends_nothing_and_leaves_no_thread(monkeypatch):
    """Ctrl-C can land while predict_many starts its threads. Whether a thread it was starting
    runs cannot be known there, so the threads wait for a go and, cancelled, leave at once:
    nothing is sent, nothing is lost, and the caller gets the KeyboardInterrupt."""
    lm = ScriptedLm()
    real_start = threading.Thread.start
    started: list[threading.Thread] = []

    def start(thread):
        if thread.name == "lmwrapper-store":  # the runner's thread is already running
            started.append(thread)
            real_start(thread)  # and this one too, yet the caller sees the interrupt
            raise KeyboardInterrupt
        if thread.name == "lmwrapper-run":
            started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(KeyboardInterrupt):
        lm.predict_many(prompts(20))
    for t in started:
        t.join(DEADLINE_S)
        assert not t.is_alive()
    assert lm.call_log == [] and stored_texts(lm, ["q0", "q1"]) == set()
    assert lm.last_run.state == "stopped early"
