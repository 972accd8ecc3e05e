"""The OpenAI Batch API behind `batching.BatchAdapter` (files + /v1/batches, official SDK).

A line's body is `request.build_request` — the live API's body — so a batch answer and a
live one share the cache key and parse the same way (`parse_response(batch=True)`, at the
batch price). Batch statuses map to the engine's states:

    validating / in_progress / finalizing / cancelling → running
    completed → completed, expired → expired, cancelled → cancelled, failed → failed

Result lines are `{"custom_id", "response": {"status_code", "body"}, "error": {"code"}}`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from lmwrapper.core.contract import ApiBackend
from lmwrapper.core.errors import (
    LmWrapperError,
    ModelNotFoundError,
    PermanentProviderError,
    TransientProviderError,
)
from lmwrapper.core.money import Price
from lmwrapper.core.prompt import LmPrompt
from lmwrapper.providers.classify import GoneError, sdk_errors
from lmwrapper.providers.openai.models import SOURCES, OpenAiModelInfo
from lmwrapper.providers.openai.request import OpenAiRequest, parse_response
from lmwrapper.providers.openai.rules import samples_per_request
from lmwrapper.runners.batch.adapter import (
    BatchLimits,
    LineResult,
    Outcome,
    RemoteBatch,
    State,
    TimedOut,
)


class BatchModel(ApiBackend, Protocol):
    """What the adapter needs of its `OpenAiPredictor` (the model's facts, price and token
    estimates, the client and its error reading)."""

    @property
    def model(self) -> OpenAiModelInfo: ...

    @property
    def price(self) -> Price: ...

    def default_max_tokens(self, prompt: LmPrompt) -> int: ...

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int: ...

    def request_for(self, prompt: LmPrompt, n: int, *, batch: bool = False,
                    service_tier: str | None = None) -> OpenAiRequest: ...

    def batch_endpoint(self) -> str: ...

# Batch queue limits (enqueued tokens per model) by usage tier, from OpenAI's limits page
# (2024-25). Set LMWRAPPER_OPENAI_TIER to use them; without it no limit is planned for up
# front, and a batch refused with `token_limit_exceeded` is re-planned at half the size.
TIER_TOKEN_LIMITS: dict[int, dict[str, int]] = {
    1: {"gpt-4o-mini": 2_000_000, "gpt-4o": 90_000, "gpt-3.5-turbo": 2_000_000,
        "gpt-4-turbo": 90_000, "gpt-4": 100_000, "o1-mini": 2_000_000, "o1": 90_000},
    2: {"gpt-4o-mini": 20_000_000, "gpt-4o": 1_350_000, "gpt-3.5-turbo": 5_000_000},
    3: {"gpt-4o-mini": 40_000_000, "gpt-4o": 50_000_000, "gpt-3.5-turbo": 50_000_000},
    4: {"gpt-4o-mini": 1_000_000_000, "gpt-4o": 200_000_000, "gpt-3.5-turbo": 100_000_000},
    5: {"gpt-4o-mini": 15_000_000_000, "gpt-4o": 5_000_000_000, "gpt-3.5-turbo": 300_000_000},
}
_RUNNING = ("validating", "in_progress", "finalizing", "cancelling")
_UNRUN_LINE_CODES = ("batch_expired", "batch_cancelled")  # never run: sent again
_LIST_DAYS = 7  # orphans older than this are not looked for (a batch lives 24 h)


def tier_token_limit(model: str, tier: int | None = None) -> int | None:
    """The enqueued-token limit of `model` at `tier` (default `$LMWRAPPER_OPENAI_TIER`)."""
    if tier is None:
        raw = os.environ.get("LMWRAPPER_OPENAI_TIER")
        if not raw:
            return None
        tier = int(raw)
    table = TIER_TOKEN_LIMITS.get(tier, {})
    # longest prefix first: "gpt-4o-mini-2024-07-18" is gpt-4o-mini, not gpt-4o
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name):
            return table[name]
    return None


class OpenAiBatchAdapter:
    provider = "openai"
    fact_sources = SOURCES

    def __init__(self, lm: BatchModel) -> None:
        self.lm = lm
        self.model = str(lm.model)
        self.limits = BatchLimits(enqueued_tokens=tier_token_limit(self.model))
        self.url = lm.batch_endpoint()  # the batch's endpoint: the one live requests use

    # -- lines ------------------------------------------------------------------------------
    def build_line(self, custom_id: str, prompt: LmPrompt, n: int) -> dict[str, Any]:
        req = self.lm.request_for(prompt, n, batch=True)
        return {"custom_id": custom_id, "method": "POST", "url": req.url, "body": req.body}

    def max_samples_per_line(self, prompt: LmPrompt) -> int:
        return samples_per_request(self.lm.model)  # `n` only where the model takes it

    def line_tokens(self, prompt: LmPrompt, n: int) -> int:
        out = prompt.max_tokens or self.lm.default_max_tokens(prompt)
        return self.lm.estimate_tokens_in_prompt(prompt) + out * n

    # -- batches ----------------------------------------------------------------------------
    def upload(self, path: Path, name: str) -> str | None:
        with open(path, "rb") as f:
            return str(self._call(lambda c: c.files.create(file=(name, f), purpose="batch")).id)

    def create(self, path: Path, file_id: str | None, metadata: Mapping[str, str]) -> RemoteBatch:
        b = self._call(lambda c: c.batches.create(input_file_id=file_id, endpoint=self.url,
                                                  completion_window="24h", metadata=dict(metadata)))
        return _remote(b)

    def retrieve(self, batch_id: str) -> RemoteBatch:
        return _remote(self._call(lambda c: c.batches.retrieve(batch_id)))

    def list_batches(self) -> Iterator[RemoteBatch]:
        since = time.time() - _LIST_DAYS * 86400
        for b in self._call(lambda c: c.batches.list(limit=100)):
            if b.created_at < since:
                return
            yield _remote(b)

    def list_files(self, prefix: str) -> Iterator[str]:
        for f in self._call(lambda c: c.files.list(purpose="batch")):
            if (f.filename or "").startswith(prefix):
                yield str(f.id)

    def cancel(self, batch_id: str) -> None:
        self._call(lambda c: c.batches.cancel(batch_id))

    def delete_file(self, file_id: str) -> None:
        try:
            self._call(lambda c: c.files.delete(file_id))
        except GoneError:
            pass

    def delete_files(self, remote: RemoteBatch) -> None:
        for file_id in (remote.input_file_id, *remote.output_file_ids):
            if file_id:
                self.delete_file(file_id)

    # -- results ----------------------------------------------------------------------------
    def results(self, remote: RemoteBatch, prompts: Mapping[str, LmPrompt]) -> Iterator[LineResult]:
        for file_id in remote.output_file_ids:
            for raw in self._lines(file_id, remote.id):
                item = json.loads(raw)
                prompt = prompts.get(item.get("custom_id"))
                if prompt is not None:
                    yield self.classify_line(item, prompt)

    def _lines(self, file_id: str, batch_id: str) -> Iterator[str]:
        """The lines of a result file, streamed (a 50,000-line file is never held whole)."""
        try:
            with self._errors():
                client = self.lm.client()
                with client.files.with_streaming_response.content(file_id) as resp:
                    for line in resp.iter_lines():
                        if line.strip():
                            yield line
        except GoneError:
            raise TransientProviderError(f"result file {file_id} of batch {batch_id} is gone "
                                         "(another process may have collected it)") from None

    def classify_line(self, item: Mapping[str, Any], prompt: LmPrompt) -> LineResult:
        """One result line as ok / transient / permanent / rejected, by the rules of the
        live path (`providers.classify.classify_error`): data in, data out."""
        cid = str(item.get("custom_id"))
        resp, err = item.get("response"), item.get("error")
        if resp and resp.get("status_code") == 200:
            try:
                preds = parse_response(resp["body"], prompt, self.lm.model, self.lm.price, batch=True)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return LineResult(cid, "transient", error=f"malformed batch answer ({type(e).__name__})")
            return LineResult(cid, "ok", preds)
        if resp:
            error = self.lm.classify(int(resp.get("status_code") or 0), resp.get("body"))
        else:
            error = self.lm.classify(None, {"error": err or {}})
        if (err or {}).get("code") in _UNRUN_LINE_CODES:
            return LineResult(cid, "transient", error=str(error))
        fatal = error if isinstance(error, ModelNotFoundError) else None
        return LineResult(cid, _outcome(error), error=str(error), stops_run=fatal)

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, fn: Any) -> Any:
        """`fn(client)`, with SDK errors turned into lmwrapper's."""
        with self._errors():
            return fn(self.lm.client())

    def _errors(self) -> Any:
        """SDK errors as lmwrapper's: transient ones are retried by the engine's next poll."""
        return sdk_errors(self.lm, "openai", timeout_error=TimedOut, gone=True)


def _outcome(error: LmWrapperError) -> Outcome:
    if isinstance(error, PermanentProviderError):
        return "permanent"  # the prompt's fault: cached as an error
    if isinstance(error, TransientProviderError):
        return "transient"  # a later batch
    return "rejected"  # not the prompt's, not worth resending now: failed, not cached



def _remote(b: Any) -> RemoteBatch:
    status = str(b.status)
    state: State = "running" if status in _RUNNING else status  # type: ignore[assignment]
    errors = getattr(getattr(b, "errors", None), "data", None) or []
    first = errors[0] if errors else None
    counts = b.request_counts
    return RemoteBatch(
        id=b.id, state=state, provider_status=status, metadata=dict(b.metadata or {}),
        error_code=getattr(first, "code", None), error_message=getattr(first, "message", None),
        input_file_id=b.input_file_id,
        output_file_ids=tuple(f for f in (b.output_file_id, b.error_file_id) if f),
        counts={"total": counts.total, "completed": counts.completed, "failed": counts.failed}
        if counts else {},
    )
