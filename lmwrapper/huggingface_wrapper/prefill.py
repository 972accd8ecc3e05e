"""Score-only rows (`max_tokens=0` with `echo=True`): one forward pass, no decoding.

Scoring a text is what likelihood evaluation does thousands of times, so those rows skip
the decoding loop and its KV cache: one padded forward gives every prompt token's logprob
(and the top-k at each position), and the completion is empty. A batch that mixes them
with ordinary rows runs each kind its own way; results keep the order of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lmwrapper.huggingface_wrapper.generation import (
    Row,
    RowResult,
    _prompt_logprobs,
    generate,
    left_pad,
)


def run_rows(model: Any, rows: Sequence[Row], score_only: Sequence[bool], pad_id: int,
             eos_ids: set[int]) -> list[RowResult]:
    """`generate` for ordinary rows, `score` for score-only ones, in the order of `rows`."""
    gen = [i for i, s in enumerate(score_only) if not s]
    scored = [i for i, s in enumerate(score_only) if s]
    results: list[RowResult | None] = [None] * len(rows)
    if gen:
        for i, res in zip(gen, generate(model, [rows[i] for i in gen], pad_id, eos_ids)):
            results[i] = res
    if scored:
        for i, res in zip(scored, score(model, [rows[i] for i in scored], pad_id)):
            results[i] = res
    return [r for r in results if r is not None]


@torch.inference_mode()
def score(model: Any, rows: Sequence[Row], pad_id: int) -> list[RowResult]:
    """Prompt logprobs (and top-k) of each row from one forward; nothing generated."""
    ids, mask, positions = left_pad([r.prompt_ids for r in rows], pad_id, model.device)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                   use_cache=False).logits
    results = [RowResult(finish_reason="length") for _ in rows]
    echo_rows = [Row(prompt_ids=r.prompt_ids, max_new_tokens=0, top_logprobs=r.top_logprobs,
                     echo=True) for r in rows]
    _prompt_logprobs(logits, ids, list(range(len(rows))), echo_rows, results)
    return results
