"""Anthropic's Message Batches behind `batching.BatchAdapter` (official SDK).

A line is `{"custom_id", "params"}` whose params are `request.build_request` — the live
API's body — so a batch answer and a live one share the cache key and parse the same way
(`parse_message(batch=True)`, at the batch price). Requests go inline with the create call
(no file upload, so nothing to delete afterwards); results are read from the batch's
`results_url`. The API has no `n`: a line is one sample.

The API version is a header of the create call, so one per batch: 2023-06-01 when a line
carries sampling fields (`rules.api_version_for`), else 2026-10-21. A batch holds one
model's lines, and a model that takes sampling fields on 2023-06-01 answers its default
lines there too (they carry no sampling fields, which both versions accept), so no batch is
split and no line is sent under a version that refuses it. States:

    in_progress / canceling → running
    ended → cancelled if a cancel was initiated, else expired if any request expired,
            else completed

Per request: `succeeded` → ok; `errored` → the shared classifier, as live, given the status
the error's type is documented with (a prompt's fault, e.g. too long, is permanent and
cached; overload, timeout and server errors are transient and resent; any other refusal is
rejected: failed for this run, not cached); `canceled` / `expired` → transient (the engine
resends them in a later batch). Batches are planned under `batch_limits()`: Anthropic's
100,000 requests, and its 256 MB less room for the create body's envelope.

Anthropic batches carry no metadata, so a batch created by a run killed before it could
record the batch's id is recognised by its shape instead: created after this database
recorded the batch as ready to create, with the same number of requests, and not known under
another id. A wrong guess costs nothing: the collector only takes results whose custom ids
are this batch's lines, and resends the rest.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from lmwrapper.core.contract import ApiBackend
from lmwrapper.core.errors import (
    ModelNotFoundError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from lmwrapper.core.money import Price
from lmwrapper.core.prompt import LmPrompt
from lmwrapper.providers.anthropic import rules
from lmwrapper.providers.anthropic.errors import batch_request_limit, too_many_requests
from lmwrapper.providers.anthropic.models import SOURCES, ClaudeModelInfo, table
from lmwrapper.providers.anthropic.request import build_request, max_tokens_for, parse_message
from lmwrapper.providers.classify import GoneError, sdk_errors
from lmwrapper.runners.batch.adapter import (
    BatchLimits,
    LineResult,
    RemoteBatch,
    State,
    TimedOut,
    TooManyRequests,
)
from lmwrapper.runners.batch.submit import META_BATCH
from lmwrapper.store.batch_records import Records
from lmwrapper.store.db import SqlCache


class BatchModel(ApiBackend, Protocol):
    """What the adapter needs of its `ClaudeBackend` (the model's facts, price and token
    estimate, the client and its error reading)."""

    @property
    def model(self) -> ClaudeModelInfo: ...

    @property
    def price(self) -> Price: ...

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int: ...

# Anthropic's documented limits of one Message Batch: 100,000 requests or 256 MB of create
# request body (models.toml [limits], with its source), whichever comes first.
MAX_REQUESTS = 100_000
MAX_BYTES = int(table().sections["limits"]["batch_request_bytes"])
# The planner counts the bytes of the JSONL lines; the create body wraps the same lines as
# `{"requests":[l1,l2,…]}` (the SDK's compact JSON, as ours): 14 bytes more than the lines,
# whose newlines become the commas. Kept below the limit with room to spare.
_ENVELOPE_BYTES = 1_024
# An errored request's result carries only the error's type; the HTTP status each type is
# documented with lets the shared classifier judge it as it judges a live answer (without
# it, a `timeout_error` would look like a refusal instead of something to send again).
_STATUS_OF_TYPE = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
_RUNNING = ("in_progress", "canceling")
_CLOCK_SKEW_S = 120.0  # our clock vs the provider's created_at, when matching orphans
_LIST_LIMIT = 100  # recent batches looked at for orphans (a batch lives 24 h)


class ClaudeBatchAdapter:
    provider = "anthropic"
    fact_sources = SOURCES

    def __init__(self, lm: BatchModel, cache: SqlCache | None = None) -> None:
        self.lm = lm
        self.cache = cache  # where the batch engine records its jobs (orphans are found there)
        self.model = str(lm.model)
        self.limits = batch_limits()

    # -- lines ------------------------------------------------------------------------------
    def build_line(self, custom_id: str, prompt: LmPrompt, n: int) -> dict[str, Any]:
        if n != 1:
            raise ValueError(f"a Message Batches line is one sample; asked for {n}")
        return {"custom_id": custom_id, "params": build_request(prompt, self.lm.model)}

    def max_samples_per_line(self, prompt: LmPrompt) -> int:
        return 1  # no `n` in the Messages API

    def line_tokens(self, prompt: LmPrompt, n: int) -> int:
        per = self.lm.estimate_tokens_in_prompt(prompt) + max_tokens_for(prompt, self.lm.model)
        return per * n

    # -- batches ----------------------------------------------------------------------------
    def upload(self, path: Path, name: str) -> str | None:
        return None  # requests go inline with create

    def create(self, path: Path, file_id: str | None, metadata: Mapping[str, str]) -> RemoteBatch:
        with open(path, encoding="utf-8") as f:
            requests = [json.loads(line) for line in f if line.strip()]
        headers = batch_headers(requests)
        try:
            return _remote(self._call(lambda c: c.messages.batches.create(
                requests=requests, extra_headers=headers)))
        except ProviderError as e:
            if not too_many_requests(e.status_code, str(e)):
                raise
            raise TooManyRequests(str(e), limit=batch_request_limit(str(e)),
                                  status_code=e.status_code, code=e.code) from e

    def retrieve(self, batch_id: str) -> RemoteBatch:
        return _remote(self._call(lambda c: c.messages.batches.retrieve(batch_id)))

    def list_batches(self) -> Iterator[RemoteBatch]:
        """Recent batches, newest first; one that fits a batch this database was about to
        create (see the module docstring) carries that batch's uid as metadata."""
        waiting = self._waiting_to_create()
        known = self._known_remote_ids()
        for n, b in enumerate(self._call(lambda c: c.messages.batches.list(limit=_LIST_LIMIT))):
            if n >= _LIST_LIMIT:
                return
            remote = _remote(b)
            if remote.id not in known:
                uid = _match(b, waiting)
                if uid is not None:
                    waiting.pop(uid)
                    remote = RemoteBatch(**{**remote.__dict__, "metadata": {META_BATCH: uid}})
            yield remote

    def list_files(self, prefix: str) -> Iterator[str]:
        return iter(())  # nothing is uploaded

    def cancel(self, batch_id: str) -> None:
        self._call(lambda c: c.messages.batches.cancel(batch_id))

    def delete_file(self, file_id: str) -> None:
        """No files: requests went inline."""

    def delete_files(self, remote: RemoteBatch) -> None:
        """Nothing to delete: no files were uploaded. The ended batch stays listed at
        Anthropic (its results are kept 29 days at no cost) rather than being deleted under
        another process that may still be reading them."""

    # -- results ----------------------------------------------------------------------------
    def results(self, remote: RemoteBatch, prompts: Mapping[str, LmPrompt]) -> Iterator[LineResult]:
        for raw in self._lines(remote.id):
            item = json.loads(raw)
            prompt = prompts.get(item.get("custom_id"))
            if prompt is not None:
                yield self.classify_line(item, prompt)

    def _lines(self, batch_id: str) -> Iterator[str]:
        """The result lines, streamed from `results_url` (never held whole)."""
        try:
            with self._errors():
                batches = self.lm.client().messages.batches
                with batches.with_streaming_response.results(batch_id) as resp:
                    for line in resp.iter_lines():
                        if line.strip():
                            yield line
        except GoneError:
            raise TransientProviderError(f"the results of batch {batch_id} are gone (another "
                                         "process may have collected them)") from None

    def classify_line(self, item: Mapping[str, Any], prompt: LmPrompt) -> LineResult:
        """One result line as ok / transient / permanent (pure: data in, data out)."""
        cid = str(item.get("custom_id"))
        result = item.get("result") or {}
        kind = result.get("type")
        if kind == "succeeded":
            try:
                pred = parse_message(result["message"], prompt, self.lm.model, self.lm.price,
                                     batch=True)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return LineResult(cid, "transient", error=f"malformed batch answer ({type(e).__name__})")
            return LineResult(cid, "ok", [pred])
        if kind == "errored":
            error = result.get("error")
            err = self.lm.classify(_status_of(error), error)
            if isinstance(err, PermanentProviderError):
                return LineResult(cid, "permanent", error=str(err))  # the prompt's: cached
            if isinstance(err, TransientProviderError):
                return LineResult(cid, "transient", error=str(err))  # a later batch
            fatal = err if isinstance(err, ModelNotFoundError) else None  # ends the run
            return LineResult(cid, "rejected", error=str(err), stops_run=fatal)  # not cached
        return LineResult(cid, "transient", error=f"Anthropic batch request {kind or 'unknown'}: "
                          "the batch ended before answering it")

    # -- orphans ----------------------------------------------------------------------------
    def _waiting_to_create(self) -> dict[str, tuple[int, float]]:
        """uid → (requests, when recorded) of our batches recorded as about to be created."""
        if self.cache is None:  # not the batch engine's (`lmwrapper batch` retrieves, cancels)
            return {}
        return {b.uid: (b.lines, b.updated_at)
                for b in Records(self.cache).uploaded_batches(self.provider, self.model)}

    def _known_remote_ids(self) -> set[str]:
        return Records(self.cache).remote_ids() if self.cache is not None else set()

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, fn: Any) -> Any:
        with self._errors():
            return fn(self.lm.client())

    def _errors(self) -> Any:
        """SDK errors as lmwrapper's: transient ones are retried by the engine's next poll."""
        return sdk_errors(self.lm, "anthropic", timeout_error=TimedOut, gone=True)



def batch_limits(max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> BatchLimits:
    """What the planner packs under so that a create request stays within `max_requests`
    requests and `max_bytes` bytes of body."""
    return BatchLimits(max_requests=max_requests, max_bytes=max_bytes - _ENVELOPE_BYTES)


def batch_headers(requests: list[dict[str, Any]]) -> dict[str, str]:
    """The create call's API version: the old one if any line needs it (module docstring)."""
    versions = {rules.api_version_for(r.get("params") or {}) for r in requests}
    legacy = rules.legacy_version()
    return {rules.HEADER: legacy if legacy in versions else rules.current_version()}


def _status_of(error: Any) -> int | None:
    """The documented status of an errored result's `{"type": "error", "error": {type}}`."""
    inner = error.get("error") if isinstance(error, Mapping) else None
    kind = inner.get("type") if isinstance(inner, Mapping) else None
    return _STATUS_OF_TYPE.get(kind) if isinstance(kind, str) else None


def _match(b: Any, waiting: Mapping[str, tuple[int, float]]) -> str | None:
    counts = b.request_counts
    total = sum(getattr(counts, k, 0) or 0 for k in
                ("processing", "succeeded", "errored", "canceled", "expired"))
    created = _epoch(b.created_at)
    for uid, (lines, recorded_at) in sorted(waiting.items(), key=lambda kv: kv[1][1]):
        if lines == total and created >= recorded_at - _CLOCK_SKEW_S:
            return uid
    return None


def _epoch(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return datetime.datetime.fromisoformat(str(value)).timestamp()


def _remote(b: Any) -> RemoteBatch:
    status = str(b.processing_status)
    counts = b.request_counts
    count_map = {k: int(getattr(counts, k, 0) or 0) for k in
                 ("processing", "succeeded", "errored", "canceled", "expired")}
    state: State
    if status in _RUNNING:
        state = "running"
    elif b.cancel_initiated_at is not None:
        state = "cancelled"
    elif count_map["expired"]:
        state = "expired"
    else:
        state = "completed"
    return RemoteBatch(id=b.id, state=state, provider_status=status, counts=count_map)


__all__ = ["MAX_BYTES", "MAX_REQUESTS", "ClaudeBatchAdapter", "batch_limits"]
