"""The batch engine's local work: planning input files, and ingesting a result file.

    python benchmarks/bench_batch.py [--n 200000] [--results 50000]

1. Plan: claim + plan + write the input files of N uncached prompts for gpt-4o-mini
   (records in SQLite, lines built by the OpenAI adapter with token counts, streamed to
   disk), at two prompt sizes. Seconds and peak traced memory of that step: memory must
   not grow with the bytes written (the prompts themselves are the caller's).
2. Ingest: a 50,000-line batch completed at the loopback fake; time from "completed" to
   every result parsed, classified and stored in the cache (download over HTTP included):
   the runner alone, then through `predict_many` (the engine's side of storing included,
   until the caller has every answer).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _jobs(lm, prompts):
    from lmwrapper.backend import Job
    from lmwrapper.sqlcache import prompt_key

    ident = lm.identity_json()
    return [Job(prompt_key(p.canonical(), ident), p, [0]) for p in prompts]


def _prompts(n: int, chars: int):
    from lmwrapper.structs import LmPrompt

    pad = ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars]
    return [LmPrompt(f"{i}: {pad}", max_tokens=20, temperature=0) for i in range(n)]


def plan(n: int, chars: int) -> dict[str, float]:
    from lmwrapper.batching import batch_runner
    from lmwrapper.openai_wrapper import get_open_ai_lm

    with tempfile.TemporaryDirectory() as d:
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-bench", cache_dir=d)
        jobs = _jobs(lm, _prompts(n, chars))
        runner = batch_runner(lm, lm.cache)
        runner.owner = "bench"
        runner.jobs = {j.key: j for j in jobs}
        runner.got = {j.key: {} for j in jobs}
        runner.adapter.line_tokens(jobs[0].prompt, 1)  # load the tokenizer outside the timing
        tracemalloc.start()
        t = time.perf_counter()
        runner._claim(jobs)
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        files = list((Path(d) / "batch_files").glob("*.jsonl"))
        size = sum(f.stat().st_size for f in files)
    return {"prompts": n, "chars": chars, "seconds": seconds, "peak_mb": peak / 1e6,
            "file_mb": size / 1e6, "batches": len(files)}


def ingest(n: int) -> dict[str, float]:
    from lmwrapper.batching import batch_runner
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.testing import FakeServer

    with tempfile.TemporaryDirectory() as d, FakeServer(batch_shuffle=True) as srv:
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-bench", base_url=srv.base_url,
                            cache_dir=d)
        jobs = _jobs(lm, _prompts(n, 40))
        runner = batch_runner(lm, lm.cache, poll_s=0.01, poll_max_s=0.01)
        runner.owner = "bench"
        runner.jobs = {j.key: j for j in jobs}
        runner.got = {j.key: {} for j in jobs}
        runner._claim(jobs)
        runner._submit_ready()
        srv.finish_batches()  # the fake answers every line now, outside the timing
        emitted = []
        t = time.perf_counter()
        runner._poll(lambda job, preds: emitted.append(job))
        seconds = time.perf_counter() - t
        assert len(emitted) == n and lm.cache.stats()["rows"] == n
    return {"lines": n, "seconds": seconds, "lines_per_s": n / seconds}


def ingest_engine(n: int) -> dict[str, float]:
    """`predict_many(BATCH_ANY)` over `n` prompts: from the batch completing to the caller
    holding every answer (the runner's poll interval is 0.01 s)."""
    from lmwrapper.batch_config import CompletionWindow
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.testing import FakeServer

    os.environ["LMWRAPPER_BATCH_POLL_S"] = os.environ["LMWRAPPER_BATCH_POLL_MAX_S"] = "0.01"
    with tempfile.TemporaryDirectory() as d, FakeServer(batch_polls_per_step=10**9) as srv:
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-bench", base_url=srv.base_url,
                            cache_dir=d)
        results = lm.predict_many(_prompts(n, 40), completion_window=CompletionWindow.BATCH_ANY)
        deadline = time.monotonic() + 600
        while not srv.state.batches:  # created (not just asked for); the fake holds it
            assert time.monotonic() < deadline, "the batch was never created"
            time.sleep(0.01)
        t = time.perf_counter()
        srv.finish_batches()
        got = list(results)
        seconds = time.perf_counter() - t
        assert len(got) == n and lm.cache.stats()["rows"] == n
    return {"lines": n, "seconds": seconds, "lines_per_s": n / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--results", type=int, default=50_000)
    ap.add_argument("--only", choices=("plan", "ingest"), default=None)
    args = ap.parse_args()
    os.environ.setdefault("LMWRAPPER_PROGRESS", "0")
    if args.only != "ingest":
        _print_plan(args.n)
    if args.only != "plan":
        _print_ingest(args.results)


def _print_plan(n: int) -> None:
    print(f"plan + write input files, {n:,} prompts (load average {os.getloadavg()[0]:.1f})")
    for chars in (50, 2_000):
        r = plan(n, chars)
        print(f"  {chars:>5}-char prompts: {r['seconds']:.1f} s ({n / r['seconds']:,.0f} "
              f"prompts/s), peak {r['peak_mb']:.1f} MB traced, {r['file_mb']:.0f} MB written "
              f"in {r['batches']:.0f} batch files")


def _print_ingest(n: int) -> None:
    print(f"ingest (load average {os.getloadavg()[0]:.1f})")
    r = ingest(n)
    print(f"  a {n:,}-line result file, the runner alone: {r['seconds']:.1f} s "
          f"({r['lines_per_s']:,.0f} results/s stored)")
    r = ingest_engine(n)
    print(f"  the same through predict_many, until the caller has every answer: "
          f"{r['seconds']:.1f} s ({r['lines_per_s']:,.0f} results/s)")


if __name__ == "__main__":
    main()
