"""Claude ASAP runs beside OpenAI's, in one run, against the loopback fake.

    python benchmarks/bench_claude.py                       # 2,000 prompts, 100 ms latency
    python benchmarks/bench_claude.py --prompts 500 --sequential-prompts 200   # quicker

For each provider (same prompts, same fake, each on a fresh cache):
  1. sequential: `max_concurrency=1`;
  2. concurrent: `max_concurrency=16`; ideal = 16 / latency prompts/s;
  3. 20 % of model calls answered 429 (Retry-After 0.1 s), then 10 % answered 529
     (Anthropic's overloaded) for Claude: every prompt must be answered, none sent more than
     1 + max_retries times (counted by the server).
The fake runs in its own process, so its work does not compete with the client for the GIL.
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

ROUTES = {"openai": "chat.completions", "anthropic": "messages"}


def serve(latency: float, fraction: float, status: int) -> None:
    """Child mode: run a FakeServer until stdin closes, then print per-prompt send counts."""
    from lmwrapper.testing import FakeServer

    with FakeServer(latency=latency) as srv:
        if fraction:
            srv.inject("status", status=status, times=None, fraction=fraction, retry_after=0.1)
        print(srv.url, flush=True)
        sys.stdin.read()
        sends: collections.Counter[str] = collections.Counter()
        statuses: collections.Counter[int] = collections.Counter()
        for r in srv.requests:
            if r.route in ROUTES.values() and isinstance(r.body, dict):
                sends[r.body["messages"][-1]["content"]] += 1
                statuses[r.status or 0] += 1
        print(json.dumps({"sends": sends, "statuses": statuses}), flush=True)


def make_lm(provider: str, url: str, concurrency: int, cache_dir: str) -> Any:
    if provider == "openai":
        from lmwrapper.openai_wrapper import get_open_ai_lm

        return get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-bench-not-a-real-key",
                              base_url=url + "/v1", max_concurrency=concurrency,
                              cache_dir=cache_dir)
    from lmwrapper.claude_wrapper import get_claude_lm

    return get_claude_lm("claude-haiku-4-5", api_key_secret="sk-ant-bench-not-a-real-key",
                         base_url=url, max_concurrency=concurrency, cache_dir=cache_dir)


def run(provider: str, n: int, concurrency: int, latency: float, fraction: float = 0.0,
        status: int = 429) -> dict[str, Any]:
    import anthropic  # noqa: F401  (imported before the clock starts, for every run alike)
    import openai  # noqa: F401

    from lmwrapper.structs import LmPrompt

    child = subprocess.Popen([sys.executable, __file__, "--serve", str(latency), str(fraction),
                              str(status)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()  # type: ignore[union-attr]
        tag = uuid.uuid4().hex[:8]
        prompts = [LmPrompt(f"bench {tag} question {i}: what is {i}+1?", max_tokens=8,
                            temperature=0) for i in range(n)]
        with tempfile.TemporaryDirectory() as cache_dir:
            lm = make_lm(provider, url, concurrency, cache_dir)
            start = time.perf_counter()
            preds = list(lm.predict_many(prompts, progress=False))
            seconds = time.perf_counter() - start
        out, _ = child.communicate("", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    log = json.loads(out.strip().splitlines()[-1])
    return {"provider": provider, "prompts": n, "concurrency": concurrency, "seconds": seconds,
            "rate": n / seconds, "answered": sum(not p.has_errors for p in preds),
            "max_sends": max(log["sends"].values()), "statuses": log["statuses"],
            "max_retries": lm.retry.max_retries}


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
    ok = all(f["answered"] == f["prompts"] and f["max_sends"] <= 1 + f["max_retries"]
             for f in faults)
    return {"sequential": seq, "concurrent": conc, "faults": faults,
            "ratio": conc["rate"] / seq["rate"], "share_of_ideal": conc["rate"] / ideal, "ok": ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--sequential-prompts", type=int, default=None)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--serve", nargs=3, type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve[0], args.serve[1], int(args.serve[2]))
    result = {p: bench(p, args) for p in ("openai", "anthropic")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if not all(r["ok"] for r in result.values()):
        sys.exit("FAILED: a prompt was not answered or was sent more than its retries")


if __name__ == "__main__":
    main()
