"""OpenAI ASAP runs against the loopback fake: sequential vs concurrent, and under 429s.

    python benchmarks/bench_openai.py                      # 2,000 prompts, 100 ms latency
    python benchmarks/bench_openai.py --prompts 500 --sequential-prompts 200   # quicker

Three runs, each on uncached prompts and a fresh cache (the fake in its own process, see
benchmarks/asap.py):
  1. sequential: one request at a time (`max_concurrency=1`, the seed's way);
  2. concurrent: `max_concurrency=16`; ideal = 16 / latency prompts/s;
  3. 20 % of requests answered 429 (Retry-After 0.1 s): every prompt must be answered and no
     prompt sent more than 1 + max_retries times (counted by the server).
"""

from __future__ import annotations

import argparse
import json
import sys

from asap import run, within_retries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--sequential-prompts", type=int, default=None,
                    help="prompts for the sequential run (default: --prompts)")
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    ideal = args.concurrency / args.latency
    seq = run("openai", args.sequential_prompts or args.prompts, 1, args.latency)
    print(f"sequential: {seq['rate']:.1f} prompts/s ({seq['prompts']} prompts, "
          f"{seq['seconds']:.1f} s)", flush=True)
    conc = run("openai", args.prompts, args.concurrency, args.latency)
    print(f"concurrency {args.concurrency}: {conc['rate']:.1f} prompts/s ({conc['prompts']} "
          f"prompts, {conc['seconds']:.1f} s) = {conc['rate'] / seq['rate']:.1f}x sequential, "
          f"{conc['rate'] / ideal:.0%} of ideal {ideal:.0f}/s", flush=True)
    rl = run("openai", args.prompts, args.concurrency, args.latency, fraction=0.2, status=429)
    print(f"20% 429s: {rl['answered']}/{rl['prompts']} answered, {rl['statuses'].get('429', 0)} "
          f"429s, at most {rl['max_sends']} sends per prompt (limit {1 + rl['max_retries']}), "
          f"{rl['rate']:.1f} prompts/s", flush=True)
    ok = within_retries(rl)
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
