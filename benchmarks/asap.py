"""What the ASAP benchmarks share (bench_openai.py, bench_claude.py): a `FakeServer` in its
own process, with a share of model calls answered by an error status, and one timed
`predict_many` of uncached prompts against it, for either provider.

    result = run("anthropic", n=2000, concurrency=16, latency=0.1, fraction=0.2, status=429)

The fake runs in its own process (this file, `--serve`), so its work does not compete with
the client for the GIL; it counts how often each prompt was sent. Rates are wall-clock rates
including the cache writes.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# Measure this checkout's lmwrapper, not whichever one is installed.
ROOT = str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, ROOT)

ROUTES = {"openai": "chat.completions", "anthropic": "messages"}
# A current model: no shutdown in the openai 3.63.0 SDK's table (types/shared/chat_model.py),
# priced by genai-prices 0.2.5 (checked 2026-12-07). gpt-4o-mini, used before, shuts down on
# 2027-01-14, and the fake answers it with a 404 from then on.
OPENAI_MODEL = "gpt-5.4-mini"


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
    if provider in ("openai", "openai-responses"):
        from lmwrapper.providers.openai import get_open_ai_lm

        return get_open_ai_lm(OPENAI_MODEL, api_key_secret="sk-bench-not-a-real-key",
                              base_url=url + "/v1", max_concurrency=concurrency,
                              cache_dir=cache_dir,
                              api="responses" if provider == "openai-responses" else None)
    from lmwrapper.providers.anthropic import get_claude_lm

    return get_claude_lm("claude-haiku-4-5", api_key_secret="sk-ant-bench-not-a-real-key",
                         base_url=url, max_concurrency=concurrency, cache_dir=cache_dir)


def run(provider: str, n: int, concurrency: int, latency: float, fraction: float = 0.0,
        status: int = 429) -> dict[str, Any]:
    """`n` uncached prompts through `predict_many` on a fresh cache, against a fresh fake."""
    import anthropic  # noqa: F401  (imported before the clock starts, for every run alike)
    import openai  # noqa: F401

    from lmwrapper.core.prompt import LmPrompt

    child = subprocess.Popen([sys.executable, __file__, "--serve", str(latency), str(fraction),
                              str(status)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()  # type: ignore[union-attr]
        tag = uuid.uuid4().hex[:8]
        # GPT-5.4 takes temperature only without reasoning; Claude has no effort "none"
        effort = {"reasoning_effort": "none"} if provider.startswith("openai") else {}
        prompts = [LmPrompt(f"bench {tag} question {i}: what is {i}+1?", max_tokens=8,
                            temperature=0, **effort) for i in range(n)]
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
            "max_sends": max(log["sends"].values()), "sends": sum(log["sends"].values()),
            "statuses": log["statuses"], "max_retries": lm.retry.max_retries}


def within_retries(result: dict[str, Any]) -> bool:
    """Every prompt answered, none sent more than 1 + max_retries times."""
    return (result["answered"] == result["prompts"]
            and result["max_sends"] <= 1 + result["max_retries"])


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve(float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
