"""Fully cached reruns of an OpenAI model through the public API, in a fresh process.

    python benchmarks/bench_cached_rerun.py [--n 5000] [--repeats 5] [--price-data]
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_cached_rerun.py   # a baseline

Fills a cache from the loopback fake (one process), then times `get_lm` + `predict_many`
over the same prompts, all cached, in a second process, and prints the median rate. With
`--price-data`, that process loads genai-prices' data first, as a process that has priced
a paid answer has it (garbage collection then walks a bigger heap).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile

PORT = 18765
SETUP = """
import sys, lmwrapper
from lmwrapper import LmPrompt
n = int(sys.argv[2])
prompts = lambda: [LmPrompt(f"What is {i}+1?", max_tokens=5, temperature=0,
                            reasoning_effort="none") for i in range(n)]
make = lambda base_url: lmwrapper.get_lm("openai/gpt-5.4-mini", base_url=base_url,
    api_key_secret="sk-bench-0123456789", cache_dir=sys.argv[1], max_concurrency=32)
"""
FILL = SETUP + f"""
from lmwrapper.testing import FakeServer
with FakeServer(latency=0.0, port={PORT}) as srv:
    list(make(srv.base_url).predict_many(prompts()))
"""
TIME = SETUP + f"""
import statistics, time
if sys.argv[4] == "1":
    from genai_prices.data_snapshot import get_snapshot
    get_snapshot()
times = []
for _ in range(int(sys.argv[3])):
    ps = prompts()
    t = time.perf_counter()
    out = list(make("http://127.0.0.1:{PORT}/v1").predict_many(ps))
    times.append(time.perf_counter() - t)
    assert all(p.was_cached for p in out)
print(f"{{n / statistics.median(times):,.0f}} cached predictions/s "
      f"(median of {{len(times)}}, {{n:,}} prompts, price data loaded: {{sys.argv[4] == '1'}})")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--price-data", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        subprocess.run([sys.executable, "-c", FILL, cache, str(args.n)], check=True)
        subprocess.run([sys.executable, "-c", TIME, cache, str(args.n), str(args.repeats),
                        "1" if args.price_data else "0"], check=True)


if __name__ == "__main__":
    main()
