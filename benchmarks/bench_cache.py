"""Cache throughput through the engine: cold writes/s and cached predictions/s.

    python benchmarks/bench_cache.py [--n 100000] [--repeats 3] [--no-baseline] [--before PATH]

Ours: `predict_many` over N distinct prompts on an instant backend into an empty cache
(cold: keys, lookup, backend, one write per result), then the same N prompts again as new
`LmPrompt` objects (cached: key computation, bulk lookup, decoding). Medians of `--repeats`.

Baseline, in the same run: lmwrapper 0.18.0.0 from PyPI, in its own venv under
`benchmarks/.baseline-venv` (created on first use), with its own mock predictor and SQLite
cache. It writes about 18 results/s, so it is measured on `--baseline-n` prompts, not N.

`--before PATH` also measures another checkout of this project (e.g. `git worktree add
/tmp/main main`), each round in a fresh process for both, taking turns, and prints the
medians side by side with their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Measure the checkout this script lives in (or the one `--checkout` names), not whichever
# lmwrapper the venv has installed (`python benchmarks/bench_cache.py` puts benchmarks/, not
# the checkout, on sys.path).
if __name__ == "__main__" and "--checkout" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--checkout") + 1])
else:
    sys.path.insert(0, str(HERE.parent))
BASELINE_VENV = HERE / ".baseline-venv"
BASELINE_PIN = "lmwrapper==0.18.0.0"


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) that `fn()` took."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def measure_ours(n: int) -> dict[str, float]:
    from lmwrapper.core.prompt import LmPrompt
    from lmwrapper.testing import ScriptedLm

    with tempfile.TemporaryDirectory() as d:
        lm = ScriptedLm(answer=lambda p, i: "ok", cache_dir=d)
        prompts = [LmPrompt(f"prompt number {i}", max_tokens=10) for i in range(n)]
        cold = _timed(lambda: list(lm.predict_many(prompts, progress=False)))
        again = [LmPrompt(f"prompt number {i}", max_tokens=10) for i in range(n)]
        got: list = []
        cached = _timed(lambda: got.extend(lm.predict_many(again, progress=False)))
        assert len(got) == n and all(p.was_cached for p in got) and len(lm.call_log) == n
        lm.cache.close()
    return {"cold": n / cold[0], "cached": n / cached[0],
            "cold_cpu": n / cold[1], "cached_cpu": n / cached[1]}


BASELINE_SCRIPT = textwrap.dedent("""
    import json, sys, tempfile, time
    from pathlib import Path
    import lmwrapper.compat018.caching as caching
    d = Path(tempfile.mkdtemp())
    caching._set_cache_dir = d
    from lmwrapper.engine.predictor import get_mock_predictor
    from lmwrapper.core.window import CompletionWindow
    from lmwrapper.core.prompt import LmPrompt
    n_cold, n_cached = int(sys.argv[1]), int(sys.argv[2])
    lm = get_mock_predictor()
    mk = lambda i: LmPrompt(f"prompt number {i}", max_tokens=10, cache=True)
    prompts = [mk(i) for i in range(n_cached)]
    t = time.perf_counter()
    list(lm.predict_many(prompts[:n_cold], CompletionWindow.ASAP))
    cold = n_cold / (time.perf_counter() - t)
    list(lm.predict_many(prompts[n_cold:], CompletionWindow.ASAP))  # fill the rest, untimed
    again = [mk(i) for i in range(n_cached)]
    t = time.perf_counter()
    got = list(lm.predict_many(again, CompletionWindow.ASAP))
    cached = n_cached / (time.perf_counter() - t)
    assert all(p.was_cached for p in got)
    print(json.dumps({"cold": cold, "cached": cached}))
""")


def baseline_python() -> Path | None:
    py = BASELINE_VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {BASELINE_VENV} with {BASELINE_PIN} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", BASELINE_PIN],
                           check=False, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"could not install the baseline: {r.stderr[-500:]}", file=sys.stderr)
            return None
    return py


def measure_baseline(py: Path, n_cold: int, n_cached: int) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as cwd:
        r = subprocess.run([str(py), "-c", BASELINE_SCRIPT, str(n_cold), str(n_cached)],
                           capture_output=True, text=True, cwd=cwd, env=env, check=True)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["cold"], out["cached"]


def measure_checkout(checkout: Path, n: int) -> dict[str, float]:
    """`measure_ours(n)` on `checkout`'s lmwrapper, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": ""}
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--checkout", str(checkout),
                        "--measure", str(n)], capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"measuring {checkout} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(before: Path, n: int, repeats: int) -> None:
    """This checkout against `before`, taking turns, each round in fresh processes."""
    runs: dict[str, list[dict[str, float]]] = {"before": [], "this": []}
    for _ in range(repeats):
        runs["before"].append(measure_checkout(before, n))
        runs["this"].append(measure_checkout(HERE.parent, n))
    med = {c: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for c, rs in runs.items()}
    print(f"before ({before}) and this checkout: medians of {repeats} rounds, {n:,} prompts, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':24}{'before':>10}{'this':>10}{'ratio':>8}   per CPU-second: before, this, ratio")
    for label, k in (("cold writes/s", "cold"), ("cached predictions/s", "cached")):
        b, t = med["before"], med["this"]
        print(f"{label:24}{b[k]:>10,.0f}{t[k]:>10,.0f}{t[k] / b[k]:>7.2f}x   "
              f"{b[k + '_cpu']:>10,.0f}{t[k + '_cpu']:>10,.0f}{t[k + '_cpu'] / b[k + '_cpu']:>7.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-n", type=int, default=300, help="cold prompts for 0.18")
    ap.add_argument("--baseline-cached-n", type=int, default=5_000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout of this project, measured in the same run")
    ap.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure is not None:  # one round of a checkout, for `compare`
        print(json.dumps(measure_ours(args.measure)))
        return
    if args.before is not None:
        compare(args.before.resolve(), args.n, args.repeats)
        return

    ours = [measure_ours(args.n) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in ours) for k in ours[0]}
    base = None
    if not args.no_baseline and (py := baseline_python()) is not None:
        runs = [measure_baseline(py, args.baseline_n, args.baseline_cached_n)
                for _ in range(args.repeats)]
        base = (statistics.median(c for c, _ in runs), statistics.median(c for _, c in runs))

    print(f"cache benchmark: median of {args.repeats} runs, {args.n:,} prompts, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'':24}{'this (wall)':>13}{'this (CPU)':>12}{'0.18 (wall)':>13}{'ratio':>8}{'target':>10}")
    rows = [("cold writes/s", "cold", 0, 5_000), ("cached predictions/s", "cached", 1, 50_000)]
    for label, k, bi, target in rows:
        b = base[bi] if base else None
        bs = f"{b:>13,.0f}" if b else f"{'-':>13}"
        ratio = f"{med[k] / b:>7,.0f}x" if b else f"{'-':>8}"
        print(f"{label:24}{med[k]:>13,.0f}{med[k + '_cpu']:>12,.0f}{bs}{ratio}"
              f"{'≥' + format(target, ','):>10}")
    print("CPU = prompts per second of this process's CPU time (threads included): what the")
    print("engine costs, less affected than wall time by other jobs on a shared machine.")
    if base:
        print(f"(0.18 measured on {args.baseline_n} cold / {args.baseline_cached_n:,} cached "
              "prompts: it writes ~20/s)")


if __name__ == "__main__":
    main()
