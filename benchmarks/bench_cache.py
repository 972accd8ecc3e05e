"""The cache through the engine: cold writes/s, and the curve of a fully cached rerun.

    python benchmarks/bench_cache.py [--n 1000,10000,100000,1000000] [--repeats 3]
                                     [--before PATH] [--no-baseline]
    python benchmarks/bench_cache.py --cli 100000,1000000 [--repeats 3] [--before PATH]

For each N: `predict_many` over N distinct prompts on an instant backend fills an empty cache
(cold: keys, lookup, backend, one write per result; measured once), then each round reruns
the same N prompts as new `LmPrompt`s in a fresh process, as a researcher's rerun is (open
the cache, key, bulk lookup, decode, every prediction handed to the caller and dropped), and
beside it, in a fresh process of its own:

- raw SQLite: the same keys (computed before the clock starts) looked up with `sqlite3`
  alone, the way `lmwrapper.store` does it (sorted, 20,000 per statement joining
  `json_each(?)`, the same five columns `SqlCache.get_many` reads), its connection opened
  on the clock, every row kept in a dict by key: the floor under any cached rerun (no key
  computed, no value decoded, no prediction built);
- `--before PATH`: the same rerun on another checkout of this project (e.g. `git worktree
  add /tmp/main main`), on the same cache file.

The three take turns, round after round; the table shows medians of `--repeats` rounds in
wall time and in CPU time (CPU is what the process itself spent: other jobs on a shared
machine disturb it less), and the peak memory of the rerun beyond the prompts it was given
(peak RSS less the RSS once the prompts are built), per prompt.

`--cli N`: the same for `lmwrapper run` over an N-line JSONL file (`{"id", "prompt", "label"}`
per line, OpenAI gpt-5.4-mini, every answer cached, rows shaped as the fake server's answers:
logprobs, usage, cost, request id), the command timed whole in a fresh process (reading the
file, prompts, keys, lookup, decode, writing the answers), here and on `--before`, taking
turns; both outputs must be byte-identical.

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

    from lmwrapper.store.db import _LOOKUP, _LOOKUP_CHUNK, _json_array  # the store's own statement
    from lmwrapper.store.keys import canonical_json, key_of

    ident = _lm(cache_dir).identity_json()
    keys = [key_of(canonical_json(p), ident) for p in _prompts(n)]
    w, c = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(Path(cache_dir) / "lmwrapper.sqlite")
    found: dict[str, list] = {}
    get, ordered = found.get, sorted(keys)
    for start in range(0, n, _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        for row in conn.execute(_LOOKUP, (_json_array(chunk),)):  # row[0]: the key's place
            key = chunk[row[0]]
            rows = get(key)
            if rows is None:
                found[key] = [row]
            else:
                rows.append(row)
    w, c = time.perf_counter() - w, time.process_time() - c
    assert len(found) == n
    return {"wall": n / w, "cpu": n / c}


# never called: all cached. A model with no shutdown in the openai SDK's table (gpt-4o-mini,
# used before, shuts down on 2027-01-14).
_CLI_MODEL, _CLI_URL = "openai/gpt-5.4-mini", "http://127.0.0.1:9/v1"
# 12 input and 1 output tokens at gpt-5.4-mini's $0.75 and $4.50 per Mtok (genai-prices 0.2.5)
_CLI_COST = (12 * 0.75 + 1 * 4.50) / 1e6


def cli_fill(n: int, folder: str) -> None:
    """An N-line JSONL file in `folder` and a cache there that answers every line, written
    through the row codec (as the engine stores an answer; no server needed)."""
    from lmwrapper.cli.run import make_lm, read_prompts
    from lmwrapper.core.gcpause import gc_paused
    from lmwrapper.core.prompt import LmPrediction, LmUsage
    from lmwrapper.store.keys import canonical_json, keys_of

    path = Path(folder) / "in.jsonl"
    with open(path, "w") as f:
        f.writelines(json.dumps({"id": f"q{i}", "prompt": f"What is {i}+1?", "label": str(i + 1)})
                     + "\n" for i in range(n))
    with gc_paused():
        prompts, _ = read_prompts(str(path))
        lm = make_lm(_CLI_MODEL, base_url=_CLI_URL, cache_dir=str(Path(folder) / "cache"))
        canonical = [canonical_json(p) for p in prompts]
        keys, codec = keys_of(canonical, lm.identity_json()), lm.row_codec()
        for start in range(0, n, 50_000):
            rows = []
            for i in range(start, min(n, start + 50_000)):
                a = str(i + 1)
                pred = LmPrediction(a, prompts[i], finish_reason="stop", completion_tokens=(a,),
                                    completion_logprobs=(-0.25,), top_token_logprobs=({a: -0.25},),
                                    usage=LmUsage(12, 1, 0), cost_usd=_CLI_COST,
                                    request_id=f"chatcmpl-{i:024x}")
                rows.append(codec.row(keys[i], pred, canonical[i]))
            lm.cache.put_many(rows)
        lm.cache.close()


def cli_run(folder: str, checkout: Path, out: str) -> dict[str, float]:
    """`lmwrapper run` over the whole file, in a fresh process: wall, CPU and peak memory of
    that process (`os.wait4`: its own rusage, not the largest child's so far)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(checkout)
    w = time.perf_counter()
    with open(Path(folder) / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "lmwrapper", "--cache-dir", "cache", "run",
                                 "--model", _CLI_MODEL, "--base-url", _CLI_URL, "in.jsonl",
                                 "-o", out], cwd=folder, env=env, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    w = time.perf_counter() - w
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        text = (Path(folder) / "stderr.txt").read_text()
        raise SystemExit(f"lmwrapper run on {checkout} failed:\n{text[-3000:]}")
    return {"wall": w, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss * 1024}


def cli_curve(sizes: list[int], repeats: int, before: Path | None) -> None:
    this = HERE.parent
    print(f"fully cached `lmwrapper run`, {os.cpu_count()} cores; medians of {repeats} runs, "
          f"each in a fresh process, taking turns")
    head = f"{'lines':>10} | {'this: wall s':>12} {'CPU s':>7} {'peak RSS':>9}"
    if before is not None:
        head += f" | {'before: wall s':>14} {'CPU s':>7} {'peak RSS':>9} | {'before/this: wall':>17} {'CPU':>5}"
    print(head + " | load")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            _in_fresh_process("cli_fill", n, d, this)
            runs: dict[str, list[dict[str, float]]] = {"this": [], "before": []}
            for _ in range(repeats):
                if before is not None:
                    runs["before"].append(cli_run(d, before, "before.jsonl"))
                runs["this"].append(cli_run(d, this, "this.jsonl"))
            if before is not None and Path(d, "before.jsonl").read_bytes() != Path(d, "this.jsonl").read_bytes():
                raise SystemExit(f"{n} lines: the two checkouts wrote different answers")
        med = {k: {m: statistics.median(r[m] for r in rs) for m in rs[0]}
               for k, rs in runs.items() if rs}
        t = med["this"]
        line = f"{n:>10,} | {t['wall']:>12.2f} {t['cpu']:>7.2f} {t['rss'] / 1e6:>7.0f}MB"
        if before is not None:
            b = med["before"]
            line += (f" | {b['wall']:>14.2f} {b['cpu']:>7.2f} {b['rss'] / 1e6:>7.0f}MB | "
                     f"{b['wall'] / t['wall']:>16.2f}x {b['cpu'] / t['cpu']:>4.2f}x")
        print(line + f" | {os.getloadavg()[0]:.1f}", flush=True)


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
    from lmwrapper.abstract_predictor import get_mock_predictor
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
    ap.add_argument("--cli", default=None,
                    help="line counts of a fully cached `lmwrapper run`, comma-separated "
                         "(measured instead of the curve)")
    ap.add_argument("--checkout", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:  # one measurement, in a fresh process (see _in_fresh_process)
        what, n, cache_dir = args.child
        if what == "cli_fill":
            cli_fill(int(n), cache_dir)
            print("{}")
            return
        print(json.dumps({"fill": fill, "rerun": rerun, "raw": raw}[what](int(n), cache_dir)))
        return
    before = args.before.resolve() if args.before else None
    if args.cli is not None:
        cli_curve([int(s.replace("_", "")) for s in args.cli.split(",")], args.repeats, before)
        return
    sizes = [int(s.replace("_", "")) for s in args.n.split(",")]
    curve(sizes, args.repeats, before)
    if not args.no_baseline:
        baseline(args)


if __name__ == "__main__":
    main()
