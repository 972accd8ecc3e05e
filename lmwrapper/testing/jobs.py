"""Batch jobs shared by the fake OpenAI Batch and Anthropic Message Batches endpoints.

A job moves one step along its provider's path each time it is polled (after
`batch_polls_per_step` polls and `batch_seconds_per_step` seconds in a state). Its lines are
answered by the same handlers as the live endpoints, so a batch answer equals a live one.
What happens to the *next* job is programmed on the server:

    srv.fail_next_batch("token_limit_exceeded")   # OpenAI: validating → failed
    srv.expire_next_batch(completed=2)            # 2 lines answered, the rest expired
    srv.batch_line_errors(match="poison", status=500)   # those lines fail, the rest succeed
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable
from typing import Any

from lmwrapper.testing.faults import Fault, searchable
from lmwrapper.testing.http import ApiError, FakeApi, Request, Response, error_response

LINE_ROUTE = "batch_line"
from lmwrapper.testing.state import FakeContext, Fate, Job, LineResult


@dataclasses.dataclass(frozen=True)
class BatchSteps:
    """How one provider's fake batches move on, declared as `BATCHES` in its fake module:
    `srv.finish_batches()` steps each of its jobs with `advance` until a `terminal` status."""

    provider: str
    advance: Callable[[FakeContext, Job, bool], None]
    terminal: tuple[str, ...]
    polls_to_end: int = 1  # polls a job takes from create to its end (one step per poll)


def line_faults(srv: FakeContext) -> list[Fault]:
    return srv.state.line_faults


def take_fate(srv: FakeContext, job: Job) -> None:
    """Give the job the next programmed fate for its provider, if any."""
    with srv.lock:
        queue = srv.state.next_fates.setdefault(job.provider, [])
        if queue:
            fate = queue.pop(0)
            job.fate = fate.fate
            job.keep = fate.completed
            if fate.fate == "fail" and fate.error is not None:
                job.fail_errors = [fate.error]


def run_lines(srv: FakeContext, job: Job, handler: Callable[..., Response],
              api: FakeApi, upto: int | None = None) -> list[LineResult]:
    """Answer the first `upto` lines (all when None); the others are left unrun. An error
    line's body is in `api`'s shape."""
    out = []
    n = len(job.requests) if upto is None else min(upto, len(job.requests))
    for i, (custom_id, body) in enumerate(job.requests):
        if i >= n:
            out.append(LineResult(custom_id, 0, None, "unrun"))
            continue
        out.append(_run_line(srv, custom_id, body, handler, api))
    return out


def _run_line(srv: FakeContext, custom_id: str, body: dict[str, Any],
              handler: Callable[..., Response], api: FakeApi) -> LineResult:
    raw = json.dumps(body).encode()
    fault = _pick_line_fault(srv, searchable(raw))
    try:
        if fault is not None:
            raise ApiError(fault.status, fault.message or f"Injected batch line failure "
                           f"(HTTP {fault.status}).", code=fault.code,
                           details=fault.details)
        resp = handler(srv, Request("POST", "", {}, {}, raw, api.name))
        return LineResult(custom_id, resp.status, resp.body, "succeeded")
    except ApiError as err:
        resp = error_response(api, err, srv.new_id("req_"))
        return LineResult(custom_id, err.status, resp.body, "errored")


def _pick_line_fault(srv: FakeContext, text: str) -> Fault | None:
    with srv.lock:
        for fault in line_faults(srv):
            if fault.applies(LINE_ROUTE, text, model_call=False):
                fault.fired += 1
                return fault
    return None


def due(srv: FakeContext, job: Job) -> bool:
    """Count a poll; True when the job may take its next step now."""
    job.polls += 1
    if job.polls < srv.batch_polls_per_step:
        return False
    if time.monotonic() - job.since < srv.batch_seconds_per_step:
        return False
    job.polls, job.since = 0, time.monotonic()
    return True


def shuffled(srv: FakeContext, job: Job, items: list[Any]) -> list[Any]:
    """Results in a job-specific order: like the real APIs, never promise input order."""
    if not srv.batch_shuffle:
        return items
    out = list(items)
    random.Random(job.id).shuffle(out)
    return out[1:] + out[:1] if out == items else out  # never the input order by chance


def page(items: list[dict[str, Any]], query: dict[str, str], after_key: str = "after",
         before_key: str | None = None) -> tuple[list[dict[str, Any]], bool]:
    """One page of `items` (newest first) after the cursor id, and whether more follow."""
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise ApiError(400, "Invalid 'limit': expected an integer.", param="limit")
    if not 1 <= limit <= 100:
        raise ApiError(400, "Invalid 'limit': expected a value between 1 and 100.",
                       param="limit")
    ids = [item["id"] for item in items]
    start = 0
    if query.get(after_key) in ids:
        start = ids.index(query[after_key]) + 1
    end = start + limit
    if before_key and query.get(before_key) in ids:
        end = ids.index(query[before_key])
        start = max(end - limit, 0)
    return items[start:end], end < len(items)


def program_fate(srv: FakeContext, provider: str, fate: Fate) -> None:
    with srv.lock:
        srv.state.next_fates.setdefault(provider, []).append(fate)


def finish(srv: FakeContext, steps: BatchSteps, jobs: list[Job]) -> None:
    """Step every job of `steps.provider` until it is terminal (at most 10 steps each)."""
    for job in jobs:
        if job.provider != steps.provider:
            continue
        for _ in range(10):
            if job.status in steps.terminal:
                break
            steps.advance(srv, job, True)
