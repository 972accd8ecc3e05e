"""The cache through the engine: cold writes/s, and the curve of a fully cached rerun.

    python benchmarks/bench_cache.py [--n 1000,10000,100000,1000000] [--repeats 3]
                                     [--before PATH] [--no-baseline]

For each N: `predict_many` over N distinct prompts on an instant backend fills an empty cache
(cold: keys, lookup, backend, one write per result; measured once), then each round reruns
the same N prompts as new `LmPrompt`s in a fresh process, as a researcher's rerun is (open
the cache, key, bulk lookup, decode, every prediction handed to the caller and dropped), and
beside it, in a fresh process of its own:

- raw SQLite: the same keys (computed before the clock starts) looked up with `sqlite3`
  alone, the way `lmwrapper.store` does it (sorted, 20,000 per `IN (SELECT value FROM
  json_each(?))`), every row fetched into a dict: the floor under any cached rerun;
- `--before PATH`: the same rerun on another checkout of this project (e.g. `git worktree
  add /tmp/main main`), on the same cache file.

The three take turns, round after round; the table shows medians of `--repeats` rounds in
wall time and in CPU time (CPU is what the process itself spent: other jobs on a shared
machine disturb it less), and the peak memory of the rerun beyond the prompts it was given
(peak RSS less the RSS once the prompts are built), per prompt.

Baseline, with `--baseline` columns unless `--no-baseline`: lmwrapper 0.18.0.0 from PyPI, in
its own venv under `benchmarks/.baseline-venv` (created on first use), with its own mock
predictor and SQLite cache: ~20 results/s cold, so measured on `--baseline-n` prompts.
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
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _prompts(n: int) -> list:
    from lmwrapper.core.prompt import LmPrompt

    return [LmPrompt(f"prompt number {i}", max_tokens=10) for i in range(n)]


def _lm(cache_dir: str):
    from lmwrapper.testing import ScriptedLm

    return ScriptedLm(answer=lambda p, i: "ok", cache_dir=cache_dir)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fill(n: int, cache_dir: str) -> dict[str, float]:
    """Cold: N distinct prompts into an empty cache, through the engine."""
    lm = _lm(cache_dir)
    prompts = _prompts(n)
    w, c = time.perf_counter(), time.process_time()
    got = sum(1 for _ in lm.predict_many(prompts, progress=False))
    w, c = time.perf_counter() - w, time.process_time() - c
    assert got == n and len(lm.call_log) == n
    lm.cache.close()
    return {"wall": n / w, "cpu": n / c}


def rerun(n: int, cache_dir: str) -> dict[str, float]:
    """A fully cached rerun, as a fresh process does it: opening the cache included."""
    import gc

    prompts = _prompts(n)
    import lmwrapper.testing  # noqa: F401  imported before the clock, as a script's imports are

    gc.collect()
    base = _rss()
    w, c = time.perf_counter(), time.process_time()
    lm = _lm(cache_dir)
    cached = sum(p.was_cached for p in lm.predict_many(prompts, progress=False))
    w, c = time.perf_counter() - w, time.process_time() - c
    assert cached == n and not lm.call_log, (cached, n)
    return {"wall": n / w, "cpu": n / c, "bytes": (_peak_rss() - base) / n}


def raw(n: int, cache_dir: str) -> dict[str, float]:
    """The same keys looked up with sqlite3 alone (keys computed before the clock starts)."""
    import sqlite3

    from lmwrapper.store.keys import canonical_json, key_of

    ident = _lm(cache_dir).identity_json()
    keys = [key_of(canonical_json(p), ident) for p in _prompts(n)]
    q = ("SELECT key, sample_index, value, blob, is_error FROM predictions "
         "WHERE key IN (SELECT value FROM json_each(?))")
    w, c = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(Path(cache_dir) / "lmwrapper.sqlite")
    found: dict[str, list] = {}
    get, ordered = found.get, sorted(keys)
    for start in range(0, n, 20_000):
        for row in conn.execute(q, (json.dumps(ordered[start : start + 20_000]),)):
            rows = get(row[0])
            if rows is None:
                found[row[0]] = [row]
            else:
                rows.append(row)
    w, c = time.perf_counter() - w, time.process_time() - c
    assert len(found) == n
    return {"wall": n / w, "cpu": n / c}


def _in_fresh_process(what: str, n: int, cache_dir: str, checkout: Path) -> dict[str, float]:
    # Bytecode written as usual (a shell with PYTHONDONTWRITEBYTECODE would otherwise have
    # every fresh process compile the modules it loads lazily: ~10 ms each).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = ""
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--checkout", str(checkout),
                        "--child", what, str(n), cache_dir],
                       capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{what} {n} on {checkout} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def curve(sizes: list[int], repeats: int, before: Path | None) -> None:
    this = HERE.parent
    print(f"cached rerun, {os.cpu_count()} cores; medians of {repeats} rounds, each "
          f"measurement in a fresh process, taking turns")
    head = (f"{'prompts':>10} {'cold/s':>8} | {'this: wall/s':>12} {'CPU/s':>9} {'B/prompt':>8} | "
            f"{'raw SQLite: wall/s':>18} {'CPU/s':>9} | {'raw/this: wall':>14} {'CPU':>5}")
    if before is not None:
        head += f" | {'before: wall/s':>14} {'CPU/s':>9} | {'this/before: wall':>17} {'CPU':>5}"
    print(head + " | load")
    peaks: dict[int, float] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            cold = _in_fresh_process("fill", n, d, this)
            runs: dict[str, list[dict[str, float]]] = {"this": [], "raw": [], "before": []}
            for _ in range(repeats):
                if before is not None:
                    runs["before"].append(_in_fresh_process("rerun", n, d, before))
                runs["this"].append(_in_fresh_process("rerun", n, d, this))
                runs["raw"].append(_in_fresh_process("raw", n, d, this))
        med = {k: {m: statistics.median(r[m] for r in rs) for m in rs[0]}
               for k, rs in runs.items() if rs}
        t, r = med["this"], med["raw"]
        line = (f"{n:>10,} {cold['wall']:>8,.0f} | {t['wall']:>12,.0f} {t['cpu']:>9,.0f} "
                f"{t['bytes']:>8,.0f} | {r['wall']:>18,.0f} {r['cpu']:>9,.0f} | "
                f"{r['wall'] / t['wall']:>13.2f}x {r['cpu'] / t['cpu']:>4.2f}x")
        if before is not None:
            b = med["before"]
            line += (f" | {b['wall']:>14,.0f} {b['cpu']:>9,.0f} | "
                     f"{t['wall'] / b['wall']:>16.2f}x {t['cpu'] / b['cpu']:>4.2f}x")
        print(line + f" | {os.getloadavg()[0]:.1f}", flush=True)
        peaks[n] = t["bytes"] * n
    print("B/prompt: peak memory of the rerun beyond the prompts it was given, per prompt.")
    if len(peaks) > 1:
        lo, hi = min(peaks), max(peaks)
        print(f"Growth of that peak from {lo:,} to {hi:,} prompts: "
              f"{(peaks[hi] - peaks[lo]) / (hi - lo):,.0f} bytes per added prompt "
              f"({peaks[lo] / 1e6:.1f} MB at {lo:,}, {peaks[hi] / 1e6:.1f} MB at {hi:,}).")
    print("raw/this: how many times faster sqlite3 alone fetches the same rows (1.00x: no overhead).")


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


def baseline(args: argparse.Namespace) -> None:
    py = baseline_python()
    if py is None:
        return
    runs = [measure_baseline(py, args.baseline_n, args.baseline_cached_n)
            for _ in range(args.repeats)]
    print(f"lmwrapper 0.18 (its own mock predictor and cache, medians of {args.repeats}): "
          f"{statistics.median(c for c, _ in runs):,.0f} cold writes/s on {args.baseline_n} "
          f"prompts, {statistics.median(c for _, c in runs):,.0f} cached predictions/s on "
          f"{args.baseline_cached_n:,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="1000,10000,100000,1000000",
                    help="prompt counts of the curve, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-n", type=int, default=300, help="cold prompts for 0.18")
    ap.add_argument("--baseline-cached-n", type=int, default=5_000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout of this project, measured in the same run")
    ap.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:  # one measurement, in a fresh process (see _in_fresh_process)
        what, n, cache_dir = args.child
        print(json.dumps({"fill": fill, "rerun": rerun, "raw": raw}[what](int(n), cache_dir)))
        return
    sizes = [int(s.replace("_", "")) for s in args.n.split(",")]
    curve(sizes, args.repeats, args.before.resolve() if args.before else None)
    if not args.no_baseline:
        baseline(args)


if __name__ == "__main__":
    main()
