"""One huge JSONL line through `lmwrapper run`: peak memory and seconds, this checkout beside
another (`--before`, e.g. a checkout made with `git worktree add /tmp/main main`).

    python benchmarks/bench_big_line.py [--mb 10,100] [--before PATH]
                                        [--models openai/gpt-5.4-mini,anthropic/claude-haiku-4-5]

For each size, a file of two lines (one string of that many MB of "x", one short prompt) is
run through `lmwrapper run --dry-run` for each model, and through a live `lmwrapper run`
against the loopback fake (`lmwrapper.testing.FakeServer`, Anthropic's 32 MB request limit
enforced as the real API does, with a 413) with the Anthropic model. Each run is a fresh
process with an empty cache directory; its peak RSS comes from `wait4`, so it is that
process's own. The live columns say what the fake received: requests, and the bytes of the
largest body (this checkout refuses the line before sending it).

A line of one character repeated is the worst case of tiktoken's BPE (one "word" of the whole
line), which is what the OpenAI dry run spent its time and memory on before the line was
refused by size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
sys.path.insert(0, str(CHECKOUT))


def _write(path: Path, mb: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps("x" * (mb * 1_000_000)) + "\n" + json.dumps("What is 2+2?") + "\n")


def _run(checkout: Path, args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak MB, stdout+stderr) of `python -m lmwrapper ARGS` on `checkout`'s code."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, **env, "PYTHONPATH": str(checkout), "LMWRAPPER_CACHE_DIR": cache,
               "LMWRAPPER_PROGRESS": "0"}
        start = time.perf_counter()
        # run from the cache folder: `-m` puts the working directory first on sys.path,
        # which would import the checkout the script was started from, whatever PYTHONPATH says
        proc = subprocess.Popen([sys.executable, "-m", "lmwrapper", *args], env=env, cwd=cache,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped by wait4
        return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def _live(checkout: Path, path: Path, model: str) -> tuple[float, float, int, int]:
    """(seconds, peak MB, requests the fake received, largest body it received in bytes)."""
    from lmwrapper.testing import FakeServer

    with FakeServer(latency=0.0) as srv:
        env = {"ANTHROPIC_BASE_URL": srv.anthropic_base_url, "ANTHROPIC_API_KEY": "sk-ant-bench",
               "OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": "sk-bench"}
        seconds, peak, _ = _run(checkout, ["run", "--model", model, str(path), "-o", os.devnull,
                                           "--allow-errors"], env)
        bodies = [len(json.dumps(r.body)) if not isinstance(r.body, bytes) else len(r.body)
                  for r in srv.requests]
        return seconds, peak, len(bodies), max(bodies, default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", default="10,100", help="line sizes in MB (10^6 characters)")
    ap.add_argument("--before", type=Path, default=None, help="another checkout to compare")
    ap.add_argument("--models", default="openai/gpt-5.4-mini,anthropic/claude-haiku-4-5")
    args = ap.parse_args()
    checkouts = {"this": CHECKOUT} | ({"before": args.before.resolve()} if args.before else {})
    print(f"{'MB':>4} {'what':<40} " + " ".join(f"{n + ': s':>10} {n + ': peak MB':>15}"
                                                 for n in checkouts) + "  fake received")
    with tempfile.TemporaryDirectory() as tmp:
        # the fake runs in this process: its first answer of a big prompt pays for warming
        # up (measured: 1.5 s of a 10 MB run), so one is made before any that is measured
        _write(Path(tmp) / "warm.jsonl", 1)
        _live(CHECKOUT, Path(tmp) / "warm.jsonl", "anthropic/claude-haiku-4-5")
        for mb in [int(x) for x in args.mb.split(",")]:
            path = Path(tmp) / f"line{mb}.jsonl"
            _write(path, mb)
            for model in args.models.split(","):
                cells = []
                for checkout in checkouts.values():
                    seconds, peak, out = _run(checkout, ["run", "--model", model, str(path),
                                                         "--dry-run"], {})
                    if "input tokens" not in out:
                        raise SystemExit(f"the dry run failed on {checkout}:\n{out[-2000:]}")
                    cells.append(f"{seconds:>10.1f} {peak:>15.0f}")
                print(f"{mb:>4} {'--dry-run ' + model:<40} " + " ".join(cells), flush=True)
            model = "anthropic/claude-haiku-4-5"
            cells, got = [], []
            for checkout in checkouts.values():
                seconds, peak, n, largest = _live(checkout, path, model)
                cells.append(f"{seconds:>10.1f} {peak:>15.0f}")
                got.append(f"{n} requests, largest {largest / 1e6:.1f} MB")
            print(f"{mb:>4} {'run (live, fake) ' + model:<40} " + " ".join(cells) + "  "
                  + " | ".join(got), flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
