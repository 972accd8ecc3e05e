"""A local model's jobs as rows and back: which prompts are only scored, each sample's seed,
the end-of-sequence and padding ids, and the collector that emits a job with its last row.

No torch here: `HuggingFaceBackend` (`backend.py`) plans with these before the model loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from lmwrapper.core.contract import Emit, Job
from lmwrapper.core.prompt import LmPrediction, LmPrompt


class Collector:
    """Each job's predictions as its rows finish; a job is emitted with its last sample."""

    def __init__(self, jobs: Sequence[Job], emit: Emit) -> None:
        self._jobs, self._emit = jobs, emit
        self._done: dict[int, list[LmPrediction | None]] = {}  # job number -> samples so far

    def expect(self, j: int) -> None:
        self._done[j] = [None] * len(self._jobs[j].sample_indices)

    def has(self, j: int, pos: int) -> bool:
        """Whether sample `pos` of job `j` was handed over already (its job maybe emitted)."""
        samples = self._done.get(j)
        return samples is None or samples[pos] is not None

    def add(self, j: int, pos: int, pred: LmPrediction) -> None:
        samples = self._done[j]
        samples[pos] = pred
        if all(p is not None for p in samples):
            del self._done[j]
            self._emit(self._jobs[j], [p for p in samples if p is not None])


def score_only(prompt: LmPrompt) -> bool:
    """A prompt that is scored, not continued: one forward, no decoding (see `prefill`)."""
    return prompt.max_tokens == 0 and prompt.model_internals_request is None


def sample_seed(seed: int | None, sample_index: int) -> int | None:
    """Sample i of a seeded prompt gets its own seed, the same however it was batched."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def eos_ids(config: Any, tokenizer: Any) -> set[int]:
    """End-of-sequence ids from a config / generation config and the tokenizer."""
    ids: set[int] = set()
    value = getattr(config, "eos_token_id", None) if config is not None else None
    ids.update([value] if isinstance(value, int) else value or [])
    if tokenizer is not None and tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def pad_id(tokenizer: Any, eos_ids: set[int]) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return min(eos_ids) if eos_ids else 0  # masked out; any valid id works
