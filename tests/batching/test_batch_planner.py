"""The planner: greedy packing under requests, bytes and enqueued tokens, streamed to disk."""

from __future__ import annotations

import json
import math

import pytest

from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.runners.batch.adapter import BatchLimits
from lmwrapper.runners.batch.planner import plan_files
from lmwrapper.structs import LmPrompt

N = 120_000


@pytest.fixture(scope="module")
def lines():
    """120,000 OpenAI batch lines of one size and token count, as the adapter builds them."""
    adapter = get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-x").batch_adapter()
    prompt = LmPrompt("What is 100000+1?", max_tokens=10, temperature=0)
    tokens = adapter.line_tokens(prompt, 1)
    out = []
    for i in range(N):
        p = LmPrompt(f"What is {100000 + i}+1?", max_tokens=10, temperature=0)
        data = (json.dumps(adapter.build_line(f"j0-{i:05x}", p, 1)) + "\n").encode()
        out.append((f"j0-{i:05x}", data, tokens))
    assert len({len(d) for _, d, _ in out}) == 1  # uniform, so the bound below is reachable
    return out


@pytest.mark.parametrize("binding", ["requests", "bytes", "tokens"])
def test_120k_prompts_split_into_the_fewest_batches_respecting_all_limits(lines, tmp_path, binding):
    size, tokens = len(lines[0][1]), lines[0][2]
    limits = {"requests": BatchLimits(7_000, 10**9, 10**9),
              "bytes": BatchLimits(50_000, 900 * size + 5, 10**9),
              "tokens": BatchLimits(50_000, 10**9, 3_000 * tokens + 1)}[binding]
    batches = list(plan_files(iter(lines), limits, tmp_path))
    fewest = max(math.ceil(N / limits.max_requests), math.ceil(N * size / limits.max_bytes),
                 math.ceil(N * tokens / limits.enqueued_tokens))
    assert len(batches) == fewest
    for b in batches:
        assert b.lines <= limits.max_requests and b.bytes <= limits.max_bytes
        assert b.tokens <= limits.enqueued_tokens
        assert b.path.stat().st_size == b.bytes
    assert [cid for b in batches for cid in b.custom_ids] == [cid for cid, _, _ in lines]


def test_all_three_limits_at_once(tmp_path):
    items = [(f"c{i}", b"x" * (10 + i % 7) + b"\n", 5 + i % 3) for i in range(1000)]
    limits = BatchLimits(max_requests=40, max_bytes=500, enqueued_tokens=150)
    batches = list(plan_files(iter(items), limits, tmp_path))
    for b in batches[:-1]:  # each batch was closed because the next line would not fit
        nxt = items[sum(x.lines for x in batches[: batches.index(b) + 1])]
        assert (b.lines + 1 > 40 or b.bytes + len(nxt[1]) > 500 or b.tokens + nxt[2] > 150)
    assert all(b.lines <= 40 and b.bytes <= 500 and b.tokens <= 150 for b in batches)


def test_a_line_over_a_limit_still_gets_a_batch_of_its_own(tmp_path):
    items = [("a", b"x" * 100 + b"\n", 1), ("b", b"y\n", 1)]
    batches = list(plan_files(iter(items), BatchLimits(10, 50, None), tmp_path))
    assert [b.custom_ids for b in batches] == [["a"], ["b"]]
