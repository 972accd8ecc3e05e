"""Fault injection for the fake server: which request gets which failure. Thread-safe.

    >>> plan = FaultPlan()
    >>> _ = plan.add(Fault("status", status=429, times=2, retry_after=0.05))
    >>> plan.pick("chat.completions", b"{}", model_call=True).status
    429

A fault applies to requests whose route name starts with `endpoint` (None: every model
call: a route its fake marks `model_call`), whose body has a string containing `match` (None: any), for the next `times` such requests
(None: forever), each with probability `fraction` drawn from a seeded RNG (None: always).
The first fault that applies wins; a request that passes all of them is served normally.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from typing import Any

KINDS = ("status", "drop", "malformed", "slow", "lose_response", "wire")

# How a "wire" fault frames an answer, the way gateways and proxies do (see Fault).
WIRE = ("trailers", "continue", "deflate", "double_length",
        "redirect_307", "redirect_308", "redirect_303", "redirect_away")


@dataclasses.dataclass
class Fault:
    """One programmed failure.

    kind: "status" (an error response with `status`), "drop" (close the connection without
    answering), "malformed" (200 with a body that is not JSON), "slow" (sleep `delay`
    seconds, then answer normally), "lose_response" (do the work — create the batch, store
    the file — then close the connection: the client cannot know it happened), "wire" (the
    answer framed as `wire` says, HTTP that a careful client must read):
      trailers       a chunked body with a trailer field after its last chunk
      continue       `100 Continue` before the answer, then the connection closed unannounced
      deflate        the body as raw deflate (no zlib header), `Content-Encoding: deflate`
      double_length  `Content-Length: N, N` (one value, repeated: RFC 9110 allows a
                     recipient to take it, or to refuse it)
      redirect_307/_308/_303  a redirect to the same path on this server (not answered:
                     not billed); the request that follows it is served normally
      redirect_away  a 307 to the same path on another origin (`localhost` for 127.0.0.1)
    """

    kind: str = "status"
    status: int = 429
    times: int | None = 1
    fraction: float | None = None
    match: str | None = None
    endpoint: str | None = None
    retry_after: float | None = 1.0
    delay: float = 0.0
    message: str | None = None
    code: str | None = None
    details: dict[str, Any] | None = None  # Anthropic's error.details ({"error_code": …})
    wire: str | None = None  # for kind="wire": one of WIRE
    seed: int | None = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if (self.kind == "wire") != (self.wire in WIRE):
            raise ValueError(f"kind='wire' takes wire= one of {', '.join(WIRE)}; got "
                             f"kind={self.kind!r}, wire={self.wire!r}")
        self._rng = random.Random(self.seed)

    def applies(self, route: str, text: str, *, model_call: bool) -> bool:
        """Whether it hits a request to `route` with `text`; `model_call`: the route is a
        model call (a fault without an endpoint hits only those, so a "fail the next
        request" does not hit a batch poll or a file download by surprise)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.endpoint is None and not model_call:
            return False
        if self.endpoint is not None and not route.startswith(self.endpoint):
            return False
        if self.match is not None and self.match not in text:
            return False
        return self.fraction is None or self._rng.random() < self.fraction


def searchable(body: bytes) -> str:
    """Every string in a JSON body, one per line, so `match` sees prompts unescaped."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
    out: list[str] = []
    stack = [parsed]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(out)


class FaultPlan:
    """The list of programmed faults, consulted once per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pick(self, route: str, body: bytes, *, model_call: bool) -> Fault | None:
        """The fault for this request, counted as fired, or None."""
        with self._lock:
            if not self._faults:
                return None
            text = searchable(body) if any(f.match for f in self._faults) else ""
            for fault in self._faults:
                if fault.applies(route, text, model_call=model_call):
                    fault.fired += 1
                    return fault
        return None

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    @property
    def fired(self) -> int:
        """How many requests got a fault so far."""
        with self._lock:
            return sum(f.fired for f in self._faults)
