"""A local model hands over each answer the moment its row leaves the batch, not when the
batch ends: a short row is stored (and a stop keeps it) while a long row is still decoding.

Where the run is inside its batch is known from a hook on the real model's forward passes:
the hook holds the decoding thread at a decode step of the long row while the test looks at
the cache, so nothing here depends on timing.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.core.contract import Job
from lmwrapper.engine.plan import uncached
from lmwrapper.providers.huggingface.generation import Row, generate
from lmwrapper.providers.huggingface.stopping import RUNNING
from lmwrapper.structs import LmPrompt

DEADLINE_S = 60  # generous: the machine may be busy; a pass takes well under a second

SHORT = LmPrompt("hi", max_tokens=1, temperature=0)


class HoldAt:
    """A forward pre-hook that, at the model's `n`-th forward pass, says so (`reached`) and
    holds that thread until `release` is set: the batch is then mid-decode."""

    def __init__(self, model, n: int) -> None:
        self.n, self.calls = n, 0
        self.reached, self.release = threading.Event(), threading.Event()
        self._handle = model.register_forward_pre_hook(self._hook)

    def _hook(self, *args) -> None:
        self.calls += 1
        if self.calls == self.n:
            self.reached.set()
            self.release.wait(DEADLINE_S * 2)

    def remove(self) -> None:
        self.release.set()
        self._handle.remove()


@pytest.fixture
def endless_lm(endless_dir, cache_dir):
    """A model that always runs to max_tokens (no end-of-sequence), cache on, batches of 2."""
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    lm = get_huggingface_lm(str(endless_dir), device="cpu", batch_size=2,
                            cache_dir=str(cache_dir))
    _ = lm.model
    return lm


def _wait_until_cached(lm, prompt: LmPrompt) -> bool:
    """Polls the cache (another connection's view) until `prompt` is in it, or the deadline."""
    done = threading.Event()
    for _ in range(DEADLINE_S * 20):
        if not uncached(lm, [prompt])[0]:
            return True
        done.wait(0.05)  # a poll interval, not a synchronisation: the loop has a deadline
    return False


def test_generate_reports_each_row_as_it_leaves_the_batch(tiny_lm):
    """`on_done(i, result)` comes at the pass where row i finishes, before the next one."""
    calls = []
    handle = tiny_lm.model.register_forward_hook(lambda *a: calls.append(1))
    reported: list[tuple[int, int, str | None]] = []
    ids = tiny_lm.tokenizer("Once upon a time")["input_ids"]
    rows = [Row(prompt_ids=ids, max_new_tokens=6), Row(prompt_ids=ids[:2], max_new_tokens=1)]
    try:
        results = generate(tiny_lm.model, rows, tiny_lm.pad_id, set(),  # no eos: full length
                           on_done=lambda i, res: reported.append((i, len(calls),
                                                                   res.finish_reason)))
    finally:
        handle.remove()
    assert reported == [(1, 1, "length"), (0, 6, "length")]  # after the prefill; after step 5
    assert [len(r.token_ids) for r in results] == [6, 1]


def test_a_short_row_is_stored_while_its_batch_still_decodes(endless_lm):
    long = LmPrompt("Once upon a time", max_tokens=40, temperature=0)
    hold = HoldAt(endless_lm.model, n=4)  # the long row's third decode step
    try:
        results = endless_lm.predict_many([long, SHORT])  # one batch of two rows
        assert hold.reached.wait(DEADLINE_S), "the batch never reached its fourth pass"
        stored = _wait_until_cached(endless_lm, SHORT)
        assert uncached(endless_lm, [long])[0] == [long]  # still decoding, held by the hook
    finally:
        hold.remove()
    assert stored, "the finished short row was not stored while its batch decoded"
    answers = list(results)
    assert len(answers[0].completion_tokens) == 40 and answers[0].finish_reason == "length"
    assert len(answers[1].completion_tokens) == 1
    assert endless_lm.last_run.new == 2


def test_a_stop_mid_batch_keeps_the_rows_that_finished(endless_lm):
    """Ctrl-C (here: closing the iterator) while the long row decodes: the short row's answer
    is in the cache, so the rerun sends only the long one. (A stop kept it before rows were
    handed over early, too, at the stopped batch's end: this guards that path.)"""
    expected = endless_lm.with_settings(cache_default=False).predict(SHORT).completion_text
    long = LmPrompt("Once upon a time", max_tokens=3000, temperature=0)  # minutes of decoding
    hold = HoldAt(endless_lm.model, n=4)
    try:
        results = endless_lm.predict_many([long, SHORT])
        assert hold.reached.wait(DEADLINE_S), "the batch never reached its fourth pass"
    finally:
        hold.remove()  # lets the thread go on; the stop below lands thousands of steps early
    results.close()
    assert RUNNING.wait_idle(DEADLINE_S)
    assert endless_lm.last_run.state == "stopped early"
    assert uncached(endless_lm, [long, SHORT]) == ([long], [1])
    again = endless_lm.predict_many([SHORT])
    (pred,) = list(again)
    assert pred.was_cached and pred.completion_text == expected


KILLED_SCRIPT = textwrap.dedent("""
    import sys
    import torch
    torch.set_num_threads(1)
    from lmwrapper.huggingface_wrapper import get_huggingface_lm
    from lmwrapper.structs import LmPrompt

    lm = get_huggingface_lm(sys.argv[1], device="cpu", batch_size=2, cache_dir=sys.argv[2])
    calls = []
    def hold(*args):  # the long row's third decode step: say so, then wait to be killed
        calls.append(1)
        if len(calls) == 4:
            print("decoding", flush=True)
            sys.stdin.readline()
    lm.model.register_forward_pre_hook(hold)
    list(lm.predict_many([LmPrompt("Once upon a time", max_tokens=3000, temperature=0),
                          LmPrompt("hi", max_tokens=1, temperature=0)]))
""")


def test_a_process_killed_mid_batch_has_stored_the_rows_that_finished(endless_lm, endless_dir,
                                                                      cache_dir, tmp_path):
    """SIGKILL (the OOM killer, a pre-empted job) while a long row decodes: the short row of
    the same batch is already on disk, so the rerun sends only the long one."""
    long = LmPrompt("Once upon a time", max_tokens=3000, temperature=0)
    script = tmp_path / "run.py"
    script.write_text(KILLED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(endless_dir), str(cache_dir)],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], DEADLINE_S * 2)
        line = proc.stdout.readline().strip() if ready else ""
        if line != "decoding":
            proc.kill()
            pytest.fail(f"the child never reached the long row's decoding: {proc.stderr.read()}")
        stored = _wait_until_cached(endless_lm, SHORT)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=DEADLINE_S)
    assert stored, "the finished short row was not on disk while its batch decoded"
    assert uncached(endless_lm, [long, SHORT]) == ([long], [1])


def _run_hooked(lm, prompts, hook, emitted: list[tuple[str, str]], *, with_kwargs=False):
    """`lm._run` over one job per prompt (keys "0", "1", ...), `hook` called before each
    forward pass; each emitted (key, completion text) appended to `emitted` as it comes."""
    jobs = [Job(key=str(i), prompt=p, sample_indices=[0]) for i, p in enumerate(prompts)]
    handle = lm.model.register_forward_pre_hook(hook, with_kwargs=with_kwargs)
    try:
        lm._run(jobs, CompletionWindow.ASAP,
                lambda job, preds: emitted.append((job.key, preds[0].completion_text)),
                should_stop=lambda: False)
    finally:
        handle.remove()


def test_an_out_of_memory_retry_does_not_emit_a_finished_row_twice(tiny_lm):
    """Out of memory mid-batch: the batch is run again as halves, without the rows it had
    already handed over (they were emitted once, and stored)."""
    import torch

    lm = tiny_lm.with_settings(batch_size=4)
    prompts = [LmPrompt("hi", max_tokens=1, temperature=0),
               LmPrompt("ok", max_tokens=1, temperature=0),
               LmPrompt("Once upon a time", max_tokens=8, temperature=0),
               LmPrompt("The capital of France", max_tokens=8, temperature=0)]
    expected = [p.completion_text for p in lm.predict_many(prompts)]
    emitted: list[tuple[str, str]] = []
    calls = []

    def fail_once(*args) -> None:
        calls.append(1)
        if len(calls) == 3:  # a decode step after the max_tokens=1 rows left the batch
            assert sorted(k for k, _ in emitted) == ["0", "1"], emitted
            raise torch.OutOfMemoryError("injected: out of memory")

    _run_hooked(lm, prompts, fail_once, emitted)
    assert len(calls) > 3, "the injected out-of-memory error never fired"
    assert sorted(k for k, _ in emitted) == ["0", "1", "2", "3"]  # each exactly once
    assert {k: text for k, text in emitted} == {str(i): t for i, t in enumerate(expected)}


def test_an_out_of_memory_retry_with_refill_runs_the_rest_half_as_wide(tiny_lm):
    """Out of memory while refilled rows decode two at a time: the rows not yet handed over
    run again one at a time; none is emitted twice, and the answers are unchanged."""
    import torch

    lm = tiny_lm.with_settings(batch_size=2)
    prompts = [LmPrompt("hi", max_tokens=1, temperature=0),
               LmPrompt("ok", max_tokens=2, temperature=0),
               LmPrompt("Once upon a time", max_tokens=8, temperature=0),
               LmPrompt("The capital of France", max_tokens=8, temperature=0),
               LmPrompt("def add(a, b):", max_tokens=5, temperature=0)]
    expected = [p.completion_text for p in lm.predict_many(prompts)]
    emitted: list[tuple[str, str]] = []
    widths: list[int] = []

    def fail_once(module, args, kwargs) -> None:
        widths.append(kwargs["input_ids"].shape[0])
        if len(widths) == 5:  # rows have finished and been replaced by then
            raise torch.OutOfMemoryError("injected: out of memory")

    _run_hooked(lm, prompts, fail_once, emitted, with_kwargs=True)
    assert len(widths) > 5, "the injected out-of-memory error never fired"
    assert max(widths[5:]) == 1  # the rest one at a time
    assert sorted(k for k, _ in emitted) == ["0", "1", "2", "3", "4"]  # each exactly once
    assert {k: text for k, text in emitted} == {str(i): t for i, t in enumerate(expected)}
