"""Claude ASAP runs beside OpenAI's, in one run, against the loopback fake.

    python benchmarks/bench_claude.py                       # 2,000 prompts, 100 ms latency
    python benchmarks/bench_claude.py --prompts 500 --sequential-prompts 200   # quicker

For each provider (same prompts, same fake, each on a fresh cache):
  1. sequential: `max_concurrency=1`;
  2. concurrent: `max_concurrency=16`; ideal = 16 / latency prompts/s;
  3. 20 % of model calls answered 429 (Retry-After 0.1 s), then 10 % answered 529
     (Anthropic's overloaded) for Claude: every prompt must be answered, none sent more than
     1 + max_retries times (counted by the server).
The fake runs in its own process (benchmarks/asap.py), so its work does not compete with the
client for the GIL.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from asap import run, within_retries


def bench(provider: str, args: argparse.Namespace) -> dict[str, Any]:
    ideal = args.concurrency / args.latency
    seq = run(provider, args.sequential_prompts or args.prompts, 1, args.latency)
    conc = run(provider, args.prompts, args.concurrency, args.latency)
    faults = [run(provider, args.prompts, args.concurrency, args.latency, 0.2, 429)]
    if provider == "anthropic":
        faults.append(run(provider, args.prompts, args.concurrency, args.latency, 0.1, 529))
    print(f"{provider:9} sequential {seq['rate']:6.1f} prompts/s | concurrency "
          f"{args.concurrency}: {conc['rate']:6.1f} prompts/s = {conc['rate'] / seq['rate']:.1f}x, "
          f"{conc['rate'] / ideal:.0%} of ideal {ideal:.0f}/s", flush=True)
    for f, label in zip(faults, ("20% 429s", "10% 529s")):
        bad = sum(v for k, v in f["statuses"].items() if k != "200")
        print(f"{provider:9} {label}: {f['answered']}/{f['prompts']} answered, {bad} errors "
              f"answered, at most {f['max_sends']} sends per prompt (limit "
              f"{1 + f['max_retries']}), {f['rate']:.1f} prompts/s", flush=True)
    ok = all(within_retries(f) for f in faults)
    return {"sequential": seq, "concurrent": conc, "faults": faults,
            "ratio": conc["rate"] / seq["rate"], "share_of_ideal": conc["rate"] / ideal, "ok": ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--sequential-prompts", type=int, default=None)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    result = {p: bench(p, args) for p in ("openai", "anthropic")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if not all(r["ok"] for r in result.values()):
        sys.exit("FAILED: a prompt was not answered or was sent more than its retries")


if __name__ == "__main__":
    main()
