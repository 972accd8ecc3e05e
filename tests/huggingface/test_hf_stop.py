"""Stopping a local generation: between decode steps, inside a forward pass, and at exit.

Forward passes are counted with hooks on the real tiny model, so each test knows exactly
where the stop fell, without timing. A stopped row is never reported as an answer.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.core.contract import Job
from lmwrapper.providers.huggingface.generation import Row, generate
from lmwrapper.providers.huggingface.stopping import RUNNING
from lmwrapper.structs import LmPrompt


class ForwardCounter:
    """Counts completed forward passes of a model (a forward hook on the whole model)."""

    def __init__(self, model) -> None:
        self.calls = 0
        self._handle = model.register_forward_hook(self._count)

    def _count(self, *args) -> None:
        self.calls += 1

    def remove(self) -> None:
        self._handle.remove()


@pytest.fixture
def counter(tiny_lm):
    c = ForwardCounter(tiny_lm.model)
    yield c
    c.remove()


def test_generate_stops_between_decode_steps(tiny_lm, counter):
    ids = tiny_lm.tokenizer("Once upon a time")["input_ids"]
    rows = [Row(prompt_ids=ids, max_new_tokens=60), Row(prompt_ids=ids[:2], max_new_tokens=60)]
    n = 4
    results = generate(tiny_lm.model, rows, tiny_lm.pad_id, tiny_lm.eos_ids,
                       should_stop=lambda: counter.calls >= n)
    assert counter.calls <= n + 1  # the prefill and n - 1 decode steps, at most one more
    for res in results:
        assert res.finish_reason is None or res.finish_reason == "stop"  # never a cut "length"
        assert len(res.token_ids) <= n + 1


def test_a_stop_inside_a_forward_pass_unwinds_it(tiny_lm):
    """The prefill of a huge batch can take a minute: a stop must not wait for it to end."""
    blocks = tiny_lm.model.transformer.h
    entered: list[int] = []
    handles = [b.register_forward_pre_hook(lambda m, a, i=i: entered.append(i))
               for i, b in enumerate(blocks)]
    try:
        ids = tiny_lm.tokenizer("The capital of France is")["input_ids"]
        results = generate(tiny_lm.model, [Row(prompt_ids=ids, max_new_tokens=5)],
                           tiny_lm.pad_id, tiny_lm.eos_ids, should_stop=lambda: bool(entered))
    finally:
        for h in handles:
            h.remove()
    assert entered == [0]  # stopped inside the first block: the second never ran
    assert results[0].finish_reason is None
    # the hooks are gone: the model runs normally afterwards
    assert tiny_lm.predict(LmPrompt("hi", max_tokens=2, temperature=0)).completion_text is not None


def test_a_stopped_run_emits_only_complete_jobs(tiny_lm, counter):
    lm = tiny_lm.with_settings(batch_size=2)
    short = [LmPrompt(t, max_tokens=2, temperature=0) for t in ("hi", "ok")]
    long = [LmPrompt("Once upon a time there was a small model that " + t, max_tokens=60,
                     temperature=0) for t in ("learned", "counted")]
    full = {p: pred for p, pred in zip(short + long, lm.predict_many(short + long))}
    assert all(len(full[p].completion_tokens) > 10 for p in long)  # no early end-of-sequence
    jobs = [Job(key=str(i), prompt=p, sample_indices=[0]) for i, p in enumerate(short + long)]
    emitted: dict[str, list] = {}
    start = counter.calls
    lm._run(jobs, CompletionWindow.ASAP, lambda job, preds: emitted.setdefault(job.key, preds),
            should_stop=lambda: counter.calls - start >= 6)  # the short batch takes 2 passes
    assert sorted(emitted) == ["0", "1"]
    for key, (pred,) in emitted.items():
        assert pred.completion_text == full[jobs[int(key)].prompt].completion_text


def test_a_row_that_finished_before_the_stop_is_kept(tiny_lm, counter):
    """In one batch, a row done before the stop is a complete answer: it is emitted."""
    short = LmPrompt("hi", max_tokens=2, temperature=0)
    long = LmPrompt("Once upon a time there was a small model that learned", max_tokens=60,
                    temperature=0)
    expected = tiny_lm.predict(short)
    jobs = [Job(key="short", prompt=short, sample_indices=[0]),
            Job(key="long", prompt=long, sample_indices=[0])]
    emitted: dict[str, list] = {}
    start = counter.calls
    tiny_lm.with_settings(batch_size=2)._run(
        jobs, CompletionWindow.ASAP, lambda job, preds: emitted.setdefault(job.key, preds),
        should_stop=lambda: counter.calls - start >= 5)
    assert list(emitted) == ["short"]
    assert emitted["short"][0].completion_text == expected.completion_text


def test_an_answer_whose_internals_pass_was_stopped_is_not_emitted(tiny_lm, counter):
    """Its text is done, but without the internals it asked for it is not the answer."""
    from lmwrapper.structs import ModelInternalsRequest

    prompt = LmPrompt("hi", max_tokens=2, temperature=0,
                      model_internals_request=ModelInternalsRequest(return_hidden_states=True))
    emitted: list = []
    start = counter.calls
    tiny_lm._run([Job(key="k", prompt=prompt, sample_indices=[0])], CompletionWindow.ASAP,
                 lambda job, preds: emitted.append(preds),
                 should_stop=lambda: counter.calls - start >= 2)  # after the text's 2 passes
    assert emitted == []
    assert counter.calls - start == 2  # the internals pass never ran


def test_breaking_out_of_predict_many_stops_generation_at_once(endless_dir):
    """`break` after the first answer: the long batch behind it stops within a step or two."""
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    lm = get_huggingface_lm(str(endless_dir), device="cpu", batch_size=1, cache_default=False)
    counter = ForwardCounter(lm.model)
    prompts = [LmPrompt("hi", max_tokens=1), LmPrompt("Once upon a time", max_tokens=3000)]
    for _ in lm.predict_many(prompts):
        at_break = counter.calls
        break
    assert RUNNING.wait_idle(60), "the backend still runs the model 60 s after break"
    assert counter.calls - at_break < 50  # not the ~3000 steps of the long prompt


SCRIPT = textwrap.dedent("""
    import sys, threading
    import torch
    torch.set_num_threads(1)
    from lmwrapper.huggingface_wrapper import get_huggingface_lm
    from lmwrapper.structs import LmPrompt

    lm = get_huggingface_lm(sys.argv[1], device="cpu", batch_size=8, cache_default=False)
    calls = []
    def started(*args):
        calls.append(1)
        if len(calls) == 3:
            print("generating", flush=True)
    lm.model.register_forward_hook(started)
    prompts = [LmPrompt(f"Once upon a time {i}", max_tokens=4000) for i in range(8)]
    if sys.argv[2] == "sigint":  # Ctrl-C in the loop
        for pred in lm.predict_many(prompts):
            pass
    else:  # the script ends while a thread still runs predict_many
        threading.Thread(target=lambda: list(lm.predict_many(prompts)), daemon=True).start()
        sys.stdin.readline()  # returns when the parent closes stdin; then Python exits
""")


@pytest.mark.parametrize("how", ["sigint", "exit"])
def test_a_process_stopped_mid_generation_exits_cleanly(endless_dir, tmp_path, how):
    """Ctrl-C, or the interpreter exiting while a thread generates, ends the process within
    seconds and without the C++ runtime's abort ("terminate called without an active
    exception", exit status 134) that a torch op still running at exit causes."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(Path(lmwrapper.__file__).parents[1])}  # this checkout's lmwrapper
    proc = subprocess.Popen([sys.executable, str(script), str(endless_dir), how], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout.readline().strip() == "generating", proc.stderr.read()
        start = time.monotonic()
        if how == "sigint":
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate("\n", timeout=120)  # the "exit" script returns on this line
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
    assert "terminate called" not in err, err[-3000:]
    if how == "sigint":
        assert err.rstrip().endswith("KeyboardInterrupt"), err[-2000:]
    else:
        assert proc.returncode == 0, err[-2000:]
    assert elapsed < 30  # ~1 s on a quiet machine; 8 rows x 4000 tokens take minutes
