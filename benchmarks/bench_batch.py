"""The batch engine's local work: planning input files, and ingesting a result file.

    python benchmarks/bench_batch.py [--n 200000] [--results 50000] [--repeats 3]
                                     [--before PATH] [--only plan|ingest]

1. Plan: claim + plan + write the input files of N uncached prompts for gpt-5.4-mini
   (records in SQLite, lines built by the OpenAI adapter with token counts, streamed to
   disk), at two prompt sizes. Seconds (and CPU seconds) untraced, medians of `--repeats`;
   then once under `tracemalloc` for the peak memory of that step, which must not grow
   with the bytes written (the prompts themselves are the caller's). Tracing costs 2-4x
   in time (it hooks every allocation), so it is timed apart.
2. Ingest: a 50,000-line batch completed at the loopback fake; time from "completed" to
   every result parsed, classified and stored in the cache (download over HTTP included):
   the runner alone, then through `predict_many` (the engine's side of storing included,
   until the caller has every answer).

`--before PATH` measures another checkout (e.g. `git worktree add /tmp/main main`) in the
same run, each measurement in a fresh process, the two checkouts taking turns, and prints
the medians side by side with their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve()
if __name__ == "__main__" and "--checkout" in sys.argv:  # measure another checkout's lmwrapper
    sys.path.insert(0, sys.argv[sys.argv.index("--checkout") + 1])
else:
    sys.path.insert(0, str(HERE.parents[1]))


def _jobs(lm, prompts):
    from lmwrapper.core.contract import Job
    from lmwrapper.store.db import prompt_key

    ident = lm.identity_json()
    return [Job(prompt_key(p.canonical(), ident), p, [0]) for p in prompts]


def _prompts(n: int, chars: int):
    from lmwrapper.core.prompt import LmPrompt

    pad = ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars]
    # GPT-5.4 takes temperature only without reasoning (gpt-4o-mini, used before, shuts down
    # on 2027-01-14: the openai SDK's table)
    return [LmPrompt(f"{i}: {pad}", max_tokens=20, temperature=0, reasoning_effort="none")
            for i in range(n)]


def plan(n: int, chars: int, traced: bool = False) -> dict[str, float]:
    from lmwrapper.providers.openai import get_open_ai_lm
    from lmwrapper.runners.batch import batch_runner

    with tempfile.TemporaryDirectory() as d:
        lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-bench", cache_dir=d)
        jobs = _jobs(lm, _prompts(n, chars))
        runner = batch_runner(lm, lm.cache)
        runner.owner = "bench"
        runner.jobs = {j.key: j for j in jobs}
        runner.got = {j.key: {} for j in jobs}
        runner.adapter.line_tokens(jobs[0].prompt, 1)  # load the tokenizer outside the timing
        if traced:
            tracemalloc.start()
        t, cpu = time.perf_counter(), time.process_time()
        runner._claim(jobs)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        files = list((Path(d) / "batch_files").glob("*.jsonl"))
        size = sum(f.stat().st_size for f in files)
    return {"prompts": n, "chars": chars, "seconds": seconds, "cpu": cpu, "peak_mb": peak / 1e6,
            "file_mb": size / 1e6, "batches": len(files)}


def ingest(n: int) -> dict[str, float]:
    from lmwrapper.providers.openai import get_open_ai_lm
    from lmwrapper.runners.batch import batch_runner
    from lmwrapper.testing import FakeServer

    with tempfile.TemporaryDirectory() as d, FakeServer(batch_shuffle=True) as srv:
        lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-bench", base_url=srv.base_url,
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
        t, cpu = time.perf_counter(), time.process_time()
        runner._poll(lambda job, preds: emitted.append(job))
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        assert len(emitted) == n and lm.cache.stats()["rows"] == n
    return {"lines": n, "seconds": seconds, "cpu": cpu}


def ingest_engine(n: int) -> dict[str, float]:
    """`predict_many(BATCH_ANY)` over `n` prompts: from the batch completing to the caller
    holding every answer (the runner's poll interval is 0.01 s)."""
    from lmwrapper.core.window import CompletionWindow
    from lmwrapper.providers.openai import get_open_ai_lm
    from lmwrapper.testing import FakeServer

    os.environ["LMWRAPPER_BATCH_POLL_S"] = os.environ["LMWRAPPER_BATCH_POLL_MAX_S"] = "0.01"
    with tempfile.TemporaryDirectory() as d, FakeServer(batch_polls_per_step=10**9) as srv:
        lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-bench", base_url=srv.base_url,
                            cache_dir=d)
        results = lm.predict_many(_prompts(n, 40), completion_window=CompletionWindow.BATCH_ANY)
        deadline = time.monotonic() + 600
        while not srv.state.batches:  # created (not just asked for); the fake holds it
            assert time.monotonic() < deadline, "the batch was never created"
            time.sleep(0.01)
        srv.finish_batches()  # the fake answers every line, then says "completed"
        t, cpu = time.perf_counter(), time.process_time()  # the fake's work not counted
        got = list(results)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        assert len(got) == n and lm.cache.stats()["rows"] == n
    return {"lines": n, "seconds": seconds, "cpu": cpu}


MEASURES = {
    "plan50": lambda a: plan(a.n, 50), "plan2000": lambda a: plan(a.n, 2_000),
    "mem50": lambda a: plan(a.n, 50, traced=True), "mem2000": lambda a: plan(a.n, 2_000, traced=True),
    "ingest": lambda a: ingest(a.results), "ingest_engine": lambda a: ingest_engine(a.results),
}


def measure(checkout: Path, name: str, args: argparse.Namespace) -> dict[str, float]:
    """One measurement of `checkout`'s lmwrapper, in a fresh process."""
    cmd = [sys.executable, str(HERE), "--checkout", str(checkout), "--measure", name,
           "--n", str(args.n), "--results", str(args.results)]
    env = {**os.environ, "LMWRAPPER_PROGRESS": "0", "PYTHONPATH": ""}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{name} on {checkout} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--results", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=1, help="rounds of the untraced timings (medians)")
    ap.add_argument("--only", choices=("plan", "ingest"), default=None)
    ap.add_argument("--before", type=Path, default=None, help="another checkout, measured too")
    ap.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--measure", choices=tuple(MEASURES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("LMWRAPPER_PROGRESS", "0")
    if args.measure:
        print(json.dumps(MEASURES[args.measure](args)))
        return
    checkouts = {"this": HERE.parents[1]}
    if args.before is not None:
        checkouts = {"before": args.before.resolve(), **checkouts}
    timed = [m for m in ("plan50", "plan2000", "ingest", "ingest_engine")
             if args.only is None or m.startswith(args.only)]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
          f"medians of {args.repeats} round(s), checkouts taking turns")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.repeats):
        for m in timed:
            for label, path in checkouts.items():
                runs.setdefault((label, m), []).append(measure(path, m, args))
    if args.only != "ingest":
        for m in ("mem50", "mem2000"):
            for label, path in checkouts.items():
                runs[(label, m)] = [measure(path, m, args)]
    _report(runs, checkouts, args)


def _median(runs: list[dict[str, float]], field: str) -> float:
    return statistics.median(r[field] for r in runs)


def _report(runs: dict[tuple[str, str], list[dict[str, float]]], checkouts: dict[str, Path],
            args: argparse.Namespace) -> None:
    rows = [("plan50", args.n, "prompts", "plan + write, 50-char prompts"),
            ("plan2000", args.n, "prompts", "plan + write, 2,000-char prompts"),
            ("ingest", args.results, "results", "ingest a result file, the runner alone"),
            ("ingest_engine", args.results, "results", "ingest through predict_many")]
    print(f"{'':42}" + "".join(f"{label + ' /s':>14}{'per CPU-s':>11}" for label in checkouts)
          + ("   ratio (wall, CPU)" if len(checkouts) == 2 else ""))
    for m, n, unit, text in rows:
        if (next(iter(checkouts)), m) not in runs:
            continue
        rates = [(n / _median(runs[(c, m)], "seconds"), n / _median(runs[(c, m)], "cpu"))
                 for c in checkouts]
        line = f"{text:42}" + "".join(f"{w:>14,.0f}{c:>11,.0f}" for w, c in rates)
        if len(rates) == 2:
            line += f"   {rates[1][0] / rates[0][0]:.2f}x, {rates[1][1] / rates[0][1]:.2f}x"
        print(line + f"  ({unit})")
    for m, chars in (("mem50", 50), ("mem2000", 2_000)):
        for c in checkouts:
            if (c, m) in runs:
                r = runs[(c, m)][0]
                print(f"{c}: {chars}-char prompts under tracemalloc: {r['seconds']:.1f} s "
                      f"({args.n / r['seconds']:,.0f} prompts/s traced), peak {r['peak_mb']:.1f} MB "
                      f"traced, {r['file_mb']:.0f} MB written in {r['batches']:.0f} batch files")


if __name__ == "__main__":
    main()
