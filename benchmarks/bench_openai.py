"""OpenAI ASAP runs against the loopback fake: sequential vs concurrent, and under 429s.

    python benchmarks/bench_openai.py                      # 2,000 prompts, 100 ms latency
    python benchmarks/bench_openai.py --prompts 500 --sequential-prompts 200   # quicker

Three runs, each on uncached prompts and a fresh cache:
  1. sequential: one request at a time (`max_concurrency=1`, the seed's way);
  2. concurrent: `max_concurrency=16`; ideal = 16 / latency prompts/s;
  3. 20 % of requests answered 429 (Retry-After 0.1 s): every prompt must be answered and no
     prompt sent more than 1 + max_retries times (counted by the server).
The fake runs in its own process (`--serve`), so its work does not compete with the client
for the GIL; prompts/s are wall-clock rates including the cache writes.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any


def serve(latency: float, fraction_429: float) -> None:
    """Child mode: run a FakeServer until stdin closes, then print per-prompt send counts."""
    from lmwrapper.testing import FakeServer

    with FakeServer(latency=latency) as srv:
        if fraction_429:
            srv.rate_limit(times=None, fraction=fraction_429, retry_after=0.1)
        print(srv.base_url, flush=True)
        sys.stdin.read()
        sends: collections.Counter[str] = collections.Counter()
        statuses: collections.Counter[int] = collections.Counter()
        for r in srv.requests:
            if r.route == "chat.completions" and isinstance(r.body, dict):
                sends[r.body["messages"][-1]["content"]] += 1
                statuses[r.status or 0] += 1
        print(json.dumps({"sends": sends, "statuses": statuses}), flush=True)


def run(n: int, concurrency: int, latency: float, fraction_429: float = 0.0) -> dict[str, Any]:
    import openai  # noqa: F401  (imported before the clock starts, for every run alike)

    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.structs import LmPrompt

    child = subprocess.Popen([sys.executable, __file__, "--serve", str(latency), str(fraction_429)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        base_url = child.stdout.readline().strip()  # type: ignore[union-attr]
        tag = uuid.uuid4().hex[:8]
        prompts = [LmPrompt(f"bench {tag} question {i}: what is {i}+1?", max_tokens=8,
                            temperature=0) for i in range(n)]
        with tempfile.TemporaryDirectory() as cache_dir:
            lm = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-bench-not-a-real-key",
                                base_url=base_url, max_concurrency=concurrency, cache_dir=cache_dir)
            start = time.perf_counter()
            preds = list(lm.predict_many(prompts, progress=False))
            seconds = time.perf_counter() - start
        out, _ = child.communicate("", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    log = json.loads(out.strip().splitlines()[-1])
    return {
        "prompts": n, "concurrency": concurrency, "seconds": seconds, "rate": n / seconds,
        "answered": sum(not p.has_errors for p in preds),
        "max_sends": max(log["sends"].values()), "sends": sum(log["sends"].values()),
        "statuses": log["statuses"], "max_retries": lm.retry.max_retries,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--sequential-prompts", type=int, default=None,
                    help="prompts for the sequential run (default: --prompts)")
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--serve", nargs=2, type=float, metavar=("LATENCY", "FRACTION_429"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(*args.serve)
    ideal = args.concurrency / args.latency
    seq = run(args.sequential_prompts or args.prompts, 1, args.latency)
    print(f"sequential: {seq['rate']:.1f} prompts/s ({seq['prompts']} prompts, "
          f"{seq['seconds']:.1f} s)", flush=True)
    conc = run(args.prompts, args.concurrency, args.latency)
    print(f"concurrency {args.concurrency}: {conc['rate']:.1f} prompts/s ({conc['prompts']} "
          f"prompts, {conc['seconds']:.1f} s) = {conc['rate'] / seq['rate']:.1f}x sequential, "
          f"{conc['rate'] / ideal:.0%} of ideal {ideal:.0f}/s", flush=True)
    rl = run(args.prompts, args.concurrency, args.latency, fraction_429=0.2)
    print(f"20% 429s: {rl['answered']}/{rl['prompts']} answered, {rl['statuses'].get('429', 0)} "
          f"429s, at most {rl['max_sends']} sends per prompt (limit {1 + rl['max_retries']}), "
          f"{rl['rate']:.1f} prompts/s", flush=True)
    ok = (rl["answered"] == rl["prompts"] and rl["max_sends"] <= 1 + rl["max_retries"])
    result = {"latency_s": args.latency, "ideal_rate": ideal, "sequential": seq,
              "concurrent": conc, "rate_limited": rl,
              "ratio": conc["rate"] / seq["rate"], "share_of_ideal": conc["rate"] / ideal,
              "all_answered_within_retries": ok}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if not ok:
        sys.exit("FAILED: a prompt was not answered or was sent more than its retries")


if __name__ == "__main__":
    main()
