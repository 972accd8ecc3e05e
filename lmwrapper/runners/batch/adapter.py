"""What the batch engine needs from a provider: the `BatchAdapter` protocol.

The engine (planner, job records, poller, collector) is provider-neutral; an adapter only
knows its provider's batch API. The engine calls it in this order, recording each step in
the cache database before the next one, so a process killed between any two steps finds
its work again:

    line = adapter.build_line(custom_id, prompt, n)      # one JSON-ready request line
    ... the engine streams lines to an input file on disk (planner) ...
    file_id = adapter.upload(path, name)                  # None: the provider takes lines inline
    remote = adapter.create(path, file_id, metadata)      # metadata names job + batch
    remote = adapter.retrieve(remote.id)                  # polled with backoff
    for r in adapter.results(remote): ...                 # LineResults, any order
    adapter.delete_files(remote)                          # after the results are stored
    adapter.cancel(remote.id)

    adapter.list_batches()   # RemoteBatches with metadata: finds one created by a killed run
    adapter.list_files(prefix)  # uploaded input files whose name starts with prefix (orphans)

A `RemoteBatch.state` is one of `STATES`, mapped from the provider's own statuses. Custom ids
are ≤ 64 characters of `[A-Za-z0-9_-]` (the stricter of OpenAI's and Anthropic's rules).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from lmwrapper.core.contract import Backend
from lmwrapper.core.errors import LmWrapperError, ProviderError, TransientProviderError
from lmwrapper.core.models import FactSources
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.store.db import SqlCache
from lmwrapper.store.rows import CacheRow, RowCodec

# running: validating / in progress / finalizing / cancelling; the rest are terminal.
State = Literal["running", "completed", "expired", "cancelled", "failed"]
STATES: tuple[State, ...] = ("running", "completed", "expired", "cancelled", "failed")
TERMINAL: tuple[State, ...] = ("completed", "expired", "cancelled", "failed")

# What a line's outcome means for the engine: ok and permanent (the prompt's fault) are
# cached; transient goes into a later batch; rejected (not the prompt's fault, e.g. a bad
# request or an unreadable error) fails for this run and is not cached. A rejected line with
# `stops_run` (a model that does not exist) also ends the run with that error.
Outcome = Literal["ok", "transient", "permanent", "rejected"]


class TimedOut(TransientProviderError):
    """A request timed out: the provider may have acted on it, or may still be acting on it.
    Before sending it again, give it time, then look for what it made."""


class TooManyRequests(ProviderError):
    """A create refused for holding more requests than the provider takes in one batch.
    `limit`: the most it takes, where its message names the number (the provider reads it);
    None: the runner halves the batch instead."""

    def __init__(self, message: str, *, limit: int | None, status_code: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.limit = limit


@dataclass(frozen=True)
class BatchLimits:
    """Per-batch limits the planner packs under (every one at once).

    `enqueued_tokens` is the provider's limit on tokens (prompt + max output) queued in all
    running batches of one model; None means no such limit.
    """

    max_requests: int = 50_000
    max_bytes: int = 200_000_000
    enqueued_tokens: int | None = None


@dataclass(frozen=True)
class RemoteBatch:
    """A batch as the provider reports it."""

    id: str
    state: State
    provider_status: str  # the provider's own word ("in_progress", "ended", …)
    metadata: Mapping[str, str] = field(default_factory=dict)
    error_code: str | None = None  # why it failed ("token_limit_exceeded", …)
    error_message: str | None = None
    input_file_id: str | None = None
    output_file_ids: tuple[str, ...] = ()  # output + error files; deleted once stored
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LineResult:
    """One line of a batch's results: predictions (ok) or an error, classified."""

    custom_id: str
    outcome: Outcome
    predictions: Sequence[LmPrediction] = ()
    error: str | None = None
    # an error that concerns every prompt (the model does not exist): once the batch is
    # stored, the run stops with it instead of sending the rest
    stops_run: LmWrapperError | None = None


class BatchAdapter(Protocol):
    """One provider's batch API. See the module docstring for the call order."""

    provider: str
    model: str  # the model name the enqueued-token limit is counted for
    fact_sources: FactSources  # where its model names are published (a "did you mean" hint)
    limits: BatchLimits

    def build_line(self, custom_id: str, prompt: LmPrompt, n: int) -> dict[str, Any]:
        """The request line for `n` samples of `prompt` (the live API's body)."""
        ...

    def max_samples_per_line(self, prompt: LmPrompt) -> int:
        """How many samples one line may ask for (`n`); 1 where the endpoint has no `n`."""
        ...

    def line_tokens(self, prompt: LmPrompt, n: int) -> int:
        """Tokens a line counts against `limits.enqueued_tokens`: prompt + max output."""
        ...

    def upload(self, path: Path, name: str) -> str | None:
        """Upload the input file under `name`; its file id (None: lines go inline on create)."""
        ...

    def create(self, path: Path, file_id: str | None, metadata: Mapping[str, str]) -> RemoteBatch:
        ...

    def retrieve(self, batch_id: str) -> RemoteBatch:
        ...

    def list_batches(self) -> Iterator[RemoteBatch]:
        """Recent batches, newest first, with their metadata (for adopting orphans)."""
        ...

    def list_files(self, prefix: str) -> Iterator[str]:
        """Ids of uploaded input files whose name starts with `prefix`."""
        ...

    def results(self, remote: RemoteBatch, prompts: Mapping[str, LmPrompt]) -> Iterator[LineResult]:
        """Every line result of a terminal batch; `prompts` maps custom id → prompt."""
        ...

    def cancel(self, batch_id: str) -> None:
        ...

    def delete_file(self, file_id: str) -> None:
        """Delete one file; a file already gone is not an error."""
        ...

    def delete_files(self, remote: RemoteBatch) -> None:
        """Delete the batch's input and result files (missing ones are ignored)."""
        ...


@runtime_checkable
class BatchBackend(Backend, Protocol):
    """A backend with a batch API (`supports_batch`): what the batch engine asks of it."""

    @property
    def timeout_s(self) -> float:
        """How long one request to its provider may take: a batch create that timed out
        is given twice as long to appear before it is sent again."""
        ...

    def batch_adapter(self, cache: SqlCache | None = None) -> BatchAdapter:
        """Its provider's batch API, for this model (`providers/<name>/batch.py`); `cache`:
        where the batch engine records its jobs, for an adapter that finds a lost batch
        by them (Anthropic's)."""
        ...

    def cache_row(self, key: str, prediction: LmPrediction,
                  canonical: str | None = None) -> CacheRow:
        """One sample as the cache row the collector stores with its line."""
        ...

    def row_codec(self) -> RowCodec:
        """How its predictions become cache rows and back (the store's one codec)."""
        ...
