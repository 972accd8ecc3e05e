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

from lmwrapper.providers.huggingface.generation import (
    OnDone,
    Row,
    RowResult,
    _prompt_logprobs,
    generate,
    left_pad,
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
             on_done: OnDone | None = None) -> list[RowResult]:
    """`generate` for ordinary rows, `score` for score-only ones, in the order of `rows`.
    A stopped row keeps `finish_reason` None (unfinished), as in `generate`; each finished
    row is handed to `on_done(index in rows, result)` as soon as it is done."""
    gen = [i for i, s in enumerate(score_only) if not s]
    scored = [i for i, s in enumerate(score_only) if s]
    results: list[RowResult] = [RowResult() for _ in rows]
    if gen:
        done = None if on_done is None else (lambda k, res: on_done(gen[k], res))
        for i, res in zip(gen, generate(model, [rows[i] for i in gen], pad_id, eos_ids,
                                        should_stop, done)):
            results[i] = res
    if scored:
        for i, res in zip(scored, score(model, [rows[i] for i in scored], pad_id, should_stop)):
            results[i] = res
            if on_done is not None and res.finish_reason is not None:
                on_done(i, res)
    return results


def score(model: Any, rows: Sequence[Row], pad_id: int,
          should_stop: ShouldStop | None = None) -> list[RowResult]:
    """Prompt logprobs (and top-k) of each row from one forward; nothing generated."""
    stop = stop_check(should_stop)
    if stop():
        return [RowResult() for _ in rows]
    ids, mask, positions = left_pad([r.prompt_ids for r in rows], pad_id, model.device)
    with RUNNING, interruptible(model, stop), torch.inference_mode():
        try:
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                           use_cache=False).logits
        except Stopped:
            return [RowResult() for _ in rows]
        results = [RowResult(finish_reason="length") for _ in rows]
        echo_rows = [Row(prompt_ids=r.prompt_ids, max_new_tokens=0,
                         top_logprobs=r.top_logprobs, echo=True) for r in rows]
        _prompt_logprobs(logits, ids, list(range(len(rows))), echo_rows, results)
    return results
