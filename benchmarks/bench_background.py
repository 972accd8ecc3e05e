"""The background windows' own cost against ASAP, through the loopback fake.

    python benchmarks/bench_background.py [--n 300] [--workers 8]

N prompts on gpt-5-pro (a Responses-only model), each window on a fresh fake and a fresh
cache: wall and CPU seconds (this process: the client and the fake together), and the
requests the fake served. A background prompt is a create plus the polls until its
response ends (the fake shows queued, then in_progress, then the end, one step per poll;
polls every 0.05 s here), and two durable writes of its record (before the create, and
its id after it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from lmwrapper import CompletionWindow
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt
from lmwrapper.testing.server import FakeServer

KEY = "sk-bench1234567890abcdefghijkl"


def measure(window: CompletionWindow, n: int, workers: int) -> str:
    with FakeServer(latency=0.0) as srv, tempfile.TemporaryDirectory() as cache_dir:
        lm = get_open_ai_lm("gpt-5-pro", api_key_secret=KEY, base_url=srv.base_url,
                            cache_dir=cache_dir, max_concurrency=workers)
        prompts = [LmPrompt(f"q{i}", max_tokens=16) for i in range(n)]
        wall, cpu = time.perf_counter(), time.process_time()
        answers = list(lm.predict_many(prompts, window, progress=False))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        failed = sum(a.has_errors for a in answers)
        return (f"{window.name:<14} {n} prompts: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                f"{len(srv.requests)} requests, {failed} failed")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--workers", type=int, default=8)
    args = p.parse_args()
    os.environ["LMWRAPPER_BATCH_POLL_S"] = "0.05"  # read when a run starts
    os.environ["LMWRAPPER_BATCH_POLL_MAX_S"] = "0.05"
    for window in (CompletionWindow.ASAP, CompletionWindow.BACKGROUND_2H):
        print(measure(window, args.n, args.workers))


if __name__ == "__main__":
    main()
