"""OpenAI's Responses background mode, for `lmwrapper.runners.background` (BACKGROUND_2H, _8H).

A background request is the live `/v1/responses` body (`responses.build_body`) with:

- `background: true` and `background_options.completion_window` "2h" or "8h" (the openai
  SDK's `ResponseCreateParams.background_options`, 3.63.0: "The `2h` and `8h` completion
  windows require `background: true`, Standard processing, and `stream: false` or omitted"),
  so no `service_tier` is sent;
- `store: true`, not the live body's `false`: a background response sent without it "is
  deleted after about 10 minutes" (OpenAI's background guide,
  developers.openai.com/api/docs/guides/background, read 2026-12-07 in its zh-Hans edition),
  and a run that waits hours, or is killed and rerun, must still find it. It is kept at OpenAI
  as any stored response is;
- `metadata.lmwrapper_marker`: the runner's record of it, so a person can match a response
  in OpenAI's dashboard to the record (the API cannot list responses: nothing else finds it).

The answer is parsed as a live one, priced at the window's discount (`tiers.served_cost`).
The status literals are the SDK's `ResponseStatus` (completed, failed, in_progress, cancelled,
queued, incomplete); a failed response's `error.code` is the SDK's `ResponseError.code`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from lmwrapper.core.contract import Job
from lmwrapper.core.errors import (
    BadResponseError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.providers.classify import GoneError, sdk_errors
from lmwrapper.providers.openai.batch import BatchModel
from lmwrapper.providers.openai.responses import RESPONSES_URL, parse_response
from lmwrapper.runners.background import Gone, MaybeCreated

ENDED = ("completed", "incomplete", "failed", "cancelled")
# A failed response's `error.code` that a later try may not meet (the SDK's ResponseError
# literal); every other code is the prompt's (invalid_prompt, image_*, the policies): cached.
TRANSIENT_CODES = ("server_error", "rate_limit_exceeded", "vector_store_timeout")


class BackgroundModel(BatchModel, Protocol):
    """What the adapter needs of its `OpenAiPredictor`: the batch adapter's needs (the
    model, its price, its request bodies, the client), and its error predictions."""

    def error_prediction(self, prompt: LmPrompt, error: ProviderError) -> LmPrediction: ...


class OpenAiBackgroundAdapter:
    """`runners.background.BackgroundAdapter` over the openai SDK's `client.responses`."""

    def __init__(self, lm: BackgroundModel) -> None:
        self.lm = lm

    def body(self, job: Job, marker: str, completion_window: str) -> dict[str, Any]:
        """The create body of `job` (one sample: Responses has no `n`)."""
        req = self.lm.request_for(job.prompt, len(job.sample_indices))
        if req.url != RESPONSES_URL:  # check_window refuses this first; a guard, not a path
            raise ValueError(f"{self.lm.model} is not sent to /v1/responses")
        return {**req.body, "store": True, "background": True,
                "background_options": {"completion_window": completion_window},
                "metadata": {"lmwrapper_marker": marker}}

    def create(self, job: Job, marker: str, completion_window: str) -> Mapping[str, Any]:
        """The created response. `MaybeCreated` where OpenAI may have created it without our
        knowing its id: a timeout, a connection lost with no answer, a 200 we cannot read."""
        body = self.body(job, marker, completion_window)
        try:
            with sdk_errors(self.lm, "openai", timeout_error=MaybeCreated):
                raw = self.lm.client().responses.with_raw_response.create(
                    model=body.pop("model"), input=body.pop("input"), extra_body=body)
        except TransientProviderError as e:
            if e.status_code is not None or isinstance(e, MaybeCreated):
                raise  # an answer (429, 5xx) says it was not created
            raise MaybeCreated(f"{e} (the create may have reached OpenAI)") from None
        return self._read(raw, MaybeCreated)  # a 200 we cannot read: created all the same

    def retrieve(self, response_id: str) -> Mapping[str, Any]:
        try:
            with sdk_errors(self.lm, "openai", gone=True):
                raw = self.lm.client().responses.with_raw_response.retrieve(response_id)
        except GoneError as e:
            raise Gone(f"OpenAI no longer has background response {response_id} ({e}); a "
                       "rerun sends the prompt again", status_code=404) from None
        return self._read(raw)

    def cancel(self, response_id: str) -> None:
        with sdk_errors(self.lm, "openai"):
            self.lm.client().responses.with_raw_response.cancel(response_id)

    def finished(self, response: Mapping[str, Any]) -> bool:
        return response.get("status") in ENDED

    def answers(self, job: Job, response: Mapping[str, Any], completion_window: str
                ) -> Sequence[LmPrediction]:
        status = response.get("status")
        if status in ("completed", "incomplete"):
            try:
                return parse_response(response, job.prompt, self.lm.model, self.lm.price,
                                      background=f"background_{completion_window}")
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return self._failed(job, BadResponseError(
                    f"malformed background response {response.get('id')} "
                    f"({type(e).__name__}: {self.lm.scrub(str(e))[:200]}); it is paid for and "
                    "kept: a rerun reads it again without creating it again"))
        error = response.get("error") or {}
        code = error.get("code")
        text = f"background response {response.get('id')} {status}"
        if status == "failed":
            kind = TransientProviderError if code in TRANSIENT_CODES or not code \
                else PermanentProviderError
            return self._failed(job, kind(f"{text} ({code}): {error.get('message')}", code=code))
        return self._failed(job, TransientProviderError(  # cancelled, not by this run
            f"{text} at OpenAI; a rerun sends the prompt again", code=status))

    def billed(self, response: Mapping[str, Any]) -> bool:
        """Answered (`completed`, or `incomplete` at its token limit): its usage is billed."""
        return response.get("status") in ("completed", "incomplete")

    def _failed(self, job: Job, error: ProviderError) -> list[LmPrediction]:
        return [self.lm.error_prediction(job.prompt, error)] * len(job.sample_indices)

    def _read(self, raw: Any, error: type[ProviderError] = BadResponseError
              ) -> Mapping[str, Any]:
        self.lm.limiter.observe(raw.headers)
        try:
            body = json.loads(raw.text)
        except ValueError:
            body = None
        if not isinstance(body, dict) or "id" not in body:
            raise error(f"a background response from {self.lm.base_url} is not a Response "
                        "object with an id")
        return body


__all__ = ["OpenAiBackgroundAdapter"]
