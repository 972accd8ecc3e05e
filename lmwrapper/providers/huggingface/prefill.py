"""Score-only rows (`max_tokens=0` with `echo=True`): one forward pass, no decoding.

Scoring a text is what likelihood evaluation does thousands of times, so those rows skip
the decoding loop and its KV cache: one forward gives every prompt token's logprob (and the
top-k at each position), and the completion is empty. Rows that share a prefix (a context
and its choices) share its computation (`shared_prefix`). A batch that mixes them
with ordinary rows runs each kind its own way; results keep the order of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lmwrapper.providers.huggingface.generation import OnDone, Row, RowResult, generate
from lmwrapper.providers.huggingface.shared_prefix import (
    can_pack,
    forward_packs,
    pack_tops,
    plan_packs,
    row_logprobs,
)
from lmwrapper.providers.huggingface.stopping import (
    RUNNING,
    ShouldStop,
    Stopped,
    interruptible,
    stop_check,
)


def run_rows(model: Any, rows: Sequence[Row], score_only: Sequence[bool], pad_id: int,
             eos_ids: set[int], should_stop: ShouldStop | None = None,
             on_done: OnDone | None = None, width: int | None = None) -> list[RowResult]:
    """`generate` for ordinary rows (`width` at a time, see `generate`), `score` for
    score-only ones, in the order of `rows`.
    A stopped row keeps `finish_reason` None (unfinished), as in `generate`; each finished
    row is handed to `on_done(index in rows, result)` as soon as it is done."""
    gen = [i for i, s in enumerate(score_only) if not s]
    scored = [i for i, s in enumerate(score_only) if s]
    results: list[RowResult] = [RowResult() for _ in rows]
    if gen:
        done = None if on_done is None else (lambda k, res: on_done(gen[k], res))
        for i, res in zip(gen, generate(model, [rows[i] for i in gen], pad_id, eos_ids,
                                        should_stop, done, width)):
            results[i] = res
    if scored:
        for i, res in zip(scored, score(model, [rows[i] for i in scored], pad_id, should_stop)):
            results[i] = res
            if on_done is not None and res.finish_reason is not None:
                on_done(i, res)
    return results


def score(model: Any, rows: Sequence[Row], pad_id: int,
          should_stop: ShouldStop | None = None) -> list[RowResult]:
    """Prompt logprobs (and top-k) of each row from one forward, rows that share a prefix
    packed together (see `shared_prefix`); nothing generated."""
    stop = stop_check(should_stop)
    results = [RowResult() for _ in rows]
    if stop():
        return results
    seqs = [r.prompt_ids for r in rows]
    packs = plan_packs(seqs, share=can_pack(model))
    with RUNNING, interruptible(model, stop), torch.inference_mode():
        try:
            logits, layout = forward_packs(model, packs, seqs, pad_id) if packs else (None, None)
        except Stopped:
            return results
        for b, members in enumerate(layout.lines if layout is not None else []):
            assert logits is not None and layout is not None
            logprobs = torch.log_softmax(logits[b].float(), dim=-1)
            best = pack_tops(logprobs, max(rows[i].top_logprobs for i in members))
            for i in members:
                lps, tops = row_logprobs(logprobs, seqs[i], layout.where[i][1],
                                         rows[i].top_logprobs, best)
                results[i] = RowResult(finish_reason="length", prompt_logprobs=lps,
                                       prompt_top_logprobs=tops)
    for i, seq in enumerate(seqs):
        if len(seq) < 2:  # nothing to predict: the first token has no logprob
            none: list[Any] = [None] * len(seq)
            results[i] = RowResult(finish_reason="length", prompt_logprobs=none,
                                   prompt_top_logprobs=none if rows[i].top_logprobs else None)
    return results
