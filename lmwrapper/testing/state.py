"""The fake server's shared state, typed, and the view of the server its endpoints get.

Endpoint modules (`providers.openai`, `providers.openai_batches`, `providers.anthropic`, `jobs`) take a
`FakeContext` — the protocol `FakeServer` satisfies — and read and write `FakeState`; none
imports the server, so the server imports them and nothing imports it back.

    srv.state.files["file-…"]      StoredFile(meta, content)      uploads and result files
    srv.state.batches["batch_…"]   Job                            both providers' batches
    srv.state.line_faults          [Fault]                        batch lines that fail
    srv.state.next_fates["openai"] [Fate]                         what the next batch does
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Protocol

from lmwrapper.testing.faults import Fault
from lmwrapper.testing.text import AnswerBook, Tokenizer


@dataclasses.dataclass
class LineResult:
    custom_id: str
    status: int  # HTTP status of the line's response; 0 when it was never run
    body: Any  # the response body (success or provider-shaped error), None if never run
    outcome: str  # "succeeded" | "errored" | "expired" | "canceled"


@dataclasses.dataclass
class Job:
    id: str
    provider: str
    requests: list[tuple[str, dict[str, Any]]]  # (custom_id, request body)
    created_at: float
    status: str
    model: str = ""
    fate: str = "complete"  # "complete" | "fail" | "expire"
    fail_errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    keep: int | None = None  # lines answered before expiry / cancellation
    results: list[LineResult] | None = None
    stamps: dict[str, float] = dataclasses.field(default_factory=dict)
    polls: int = 0
    since: float = dataclasses.field(default_factory=time.monotonic)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # provider fields


@dataclasses.dataclass
class StoredFile:
    meta: dict[str, Any]  # the API's file object
    content: bytes


@dataclasses.dataclass
class Fate:
    """What happens to the next batch of a provider (`fail_next_batch`, `expire_next_batch`)."""

    fate: str  # "fail" | "expire"
    completed: int | None = None  # lines answered before it expires
    error: dict[str, Any] | None = None  # the failure's error object


@dataclasses.dataclass
class AnthropicLimits:
    """Anthropic's documented size limits, which the fake enforces (a test may lower them:
    `srv.anthropic_limits = AnthropicLimits(batch_requests=3)`). "MB" is read as 10^6 bytes,
    the stricter reading; past a byte limit the answer is a 413 `request_too_large`."""

    request_bytes: int = 32_000_000  # a Messages or count_tokens request body
    batch_requests: int = 100_000  # requests in one Message Batch
    batch_bytes: int = 256_000_000  # a Message Batches create request body


@dataclasses.dataclass
class FakeState:
    files: dict[str, StoredFile] = dataclasses.field(default_factory=dict)
    batches: dict[str, Job] = dataclasses.field(default_factory=dict)
    line_faults: list[Fault] = dataclasses.field(default_factory=list)
    next_fates: dict[str, list[Fate]] = dataclasses.field(default_factory=dict)
    flex_requests: int = 0  # OpenAI requests asking for service_tier "flex" (see serve_tier)
    # OpenAI background responses by id: the finished Response object, and how many polls
    # it has had (`openai_responses`: queued, then in_progress, then its end)
    background: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


class FakeContext(Protocol):
    """What an endpoint may use of the server (`FakeServer` is one)."""

    lock: Any  # an RLock guarding `state`
    state: FakeState
    answers: AnswerBook
    tokenize: Tokenizer
    batch_polls_per_step: int
    batch_seconds_per_step: float
    batch_shuffle: bool
    batch_token_limit: int | None
    anthropic_limits: AnthropicLimits
    flex_unavailable: float  # the share of flex requests refused with a 429 (OpenAI)
    downgrade_tiers: set[str]  # service tiers served at "default" instead (OpenAI)
    azure_deployments: dict[str, str]
    azure_batch_deployments: dict[str, str]

    @property
    def url(self) -> str: ...

    def new_id(self, prefix: str) -> str: ...

    def context_limit_for(self, model: str, provider: str | None = None) -> int: ...

    def model_missing(self, provider: str, model: str) -> bool: ...
