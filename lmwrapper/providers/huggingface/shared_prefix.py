"""Score-only rows that share a prefix, in one forward: the prefix once, each row's rest after it.

A multiple-choice item is one context scored with each of its choices: 4 rows that agree on
their first 40 tokens and differ in their last 3. Run one by one (or as lm-evaluation-harness
runs them, one padded row each) the context is computed 4 times. Here rows that share a
prefix are *packed* into one sequence, the prefix followed by each row's own tokens, with an
attention mask that lets each row's tokens see the prefix and their own row only, and
position ids that restart after the prefix for each row:

    tokens     The cat sat on | the  mat | a  rug | the  sofa    (prefix | row 1 | row 2 | row 3)
    positions   0   1   2   3 |  4    5  | 4   5  |  4    5
    sees        causal prefix | prefix + its own tokens

so every token is computed once and each row's logprobs are exactly those of its own forward.
A row's last token is never fed (its logits would predict what follows the prompt), so a
one-token choice costs nothing beyond its context: the harness's one-token sharing falls out.

Packing needs a 4-D attention mask, which transformers passes as-is to the "sdpa" and "eager"
attention implementations; with another one (flash attention) rows are run one per sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

MIN_SHARED = 2  # tokens a row must share with a pack's first row to join it
MAX_PACKED = 2048  # tokens in one packed sequence (its mask is MAX_PACKED² floats)


@dataclass
class Pack:
    """One packed sequence: `prefix` (shared, fed whole) then each member's rest but its last."""

    prefix_len: int
    members: list[int] = field(default_factory=list)  # indices into the rows


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def plan_packs(seqs: Sequence[Sequence[int]], share: bool = True) -> list[Pack]:
    """Rows of two tokens or more grouped by shared prefix, sorted by packed length.

    Rows are sorted by their tokens, so rows with a common prefix are neighbours; a pack takes
    neighbours while they share >= MIN_SHARED tokens with its first row and it stays under
    MAX_PACKED tokens. Each member keeps at least its last token out of the prefix.
    """
    order = sorted((i for i, s in enumerate(seqs) if len(s) >= 2), key=lambda i: list(seqs[i]))
    packs: list[Pack] = []
    for i in order:
        last = packs[-1] if packs else None
        if share and last is not None and _joins(last, seqs, i):
            first = seqs[last.members[0]]
            last.prefix_len = min(last.prefix_len, _lcp(first, seqs[i]), len(seqs[i]) - 1)
            last.members.append(i)
        else:
            packs.append(Pack(len(seqs[i]) - 1, [i]))
    packs.sort(key=lambda p: packed_len(p, seqs))
    return packs


def _joins(pack: Pack, seqs: Sequence[Sequence[int]], i: int) -> bool:
    shared = min(pack.prefix_len, _lcp(seqs[pack.members[0]], seqs[i]), len(seqs[i]) - 1)
    if shared < MIN_SHARED:
        return False
    grown = Pack(shared, [*pack.members, i])
    return packed_len(grown, seqs) <= MAX_PACKED


def packed_len(pack: Pack, seqs: Sequence[Sequence[int]]) -> int:
    return pack.prefix_len + sum(len(seqs[i]) - 1 - pack.prefix_len for i in pack.members)


@dataclass
class _Layout:
    """Where each member's positions sit in the packed rows of one batch."""

    ids: torch.Tensor  # [packs, width]
    positions: torch.Tensor  # [packs, width]
    segments: torch.Tensor  # [packs, width]: -1 prefix, k member k's own tokens, -2 padding
    where: dict[int, tuple[int, list[int]]]  # row -> (pack, packed index of its positions 0..n-2)


def _layout(packs: Sequence[Pack], seqs: Sequence[Sequence[int]], pad_id: int) -> _Layout:
    width = max(packed_len(p, seqs) for p in packs)
    ids = torch.full((len(packs), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(packs), width), dtype=torch.long)
    segments = torch.full((len(packs), width), -2, dtype=torch.long)
    where: dict[int, tuple[int, list[int]]] = {}
    for b, pack in enumerate(packs):
        p = pack.prefix_len
        first = seqs[pack.members[0]]
        ids[b, :p] = torch.tensor(list(first[:p]), dtype=torch.long)
        positions[b, :p] = torch.arange(p)
        segments[b, :p] = -1
        at = p
        for k, i in enumerate(pack.members):
            own = list(seqs[i][p:-1])  # the last token is predicted, never fed
            ids[b, at:at + len(own)] = torch.tensor(own, dtype=torch.long)
            positions[b, at:at + len(own)] = torch.arange(p, p + len(own))
            segments[b, at:at + len(own)] = k
            where[i] = (b, list(range(p)) + list(range(at, at + len(own))))
            at += len(own)
    return _Layout(ids, positions, segments, where)


def _mask(layout: _Layout, dtype: torch.dtype) -> torch.Tensor:
    """[packs, 1, width, width] additive mask: a token sees the prefix and its own member."""
    pos, seg = layout.positions, layout.segments
    earlier = pos[:, None, :] <= pos[:, :, None]
    same = (seg[:, None, :] == -1) | (seg[:, None, :] == seg[:, :, None])
    allowed = (earlier & same)[:, None]
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


def can_pack(model: Any) -> bool:
    return getattr(model.config, "_attn_implementation", None) in ("sdpa", "eager")


def forward_packs(model: Any, packs: Sequence[Pack], seqs: Sequence[Sequence[int]],
                  pad_id: int) -> tuple[torch.Tensor, _Layout]:
    """Logits `[packs, width, vocab]` of one forward over the packed rows, and their layout."""
    layout = _layout(packs, seqs, pad_id)
    device = model.device
    ids, positions = layout.ids.to(device), layout.positions.to(device)
    if all(len(p.members) == 1 for p in packs) or not can_pack(model):
        mask = (layout.segments != -2).long().to(device)  # right padding: plain causal rows
    else:
        mask = _mask(layout, next(model.parameters()).dtype).to(device)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
    return out.logits, layout


def row_logprobs(logprobs: torch.Tensor, seq: Sequence[int], where: list[int], top: int
                 ) -> tuple[list[float | None], list[list[tuple[int, float]] | None] | None]:
    """One row's prompt logprobs (None first) and, with `top`, its top-k at each position,
    read from its pack's `log_softmax` rows `[width, vocab]`."""
    index = torch.tensor(where, device=logprobs.device)
    rows = logprobs.index_select(0, index)
    targets = torch.tensor(list(seq[1:]), device=logprobs.device)
    picked = rows.gather(-1, targets[:, None])[:, 0].tolist()
    tops: list[list[tuple[int, float]] | None] | None = None
    if top:
        values, ids = rows.topk(top, dim=-1)
        tops = [None, *(list(zip(a, b)) for a, b in zip(ids.tolist(), values.tolist()))]
    return [None, *picked], tops


def score_batches(seqs: Sequence[Sequence[int]], batch_size: int, share: bool
                  ) -> list[list[int]]:
    """Row indices in batches of whole packs (at most `batch_size` rows, unless one pack has
    more), shortest packs first; rows under two tokens (nothing to compute) come last."""
    batches: list[list[int]] = []
    current: list[int] = []
    for pack in plan_packs(seqs, share):
        if current and len(current) + len(pack.members) > batch_size:
            batches.append(current)
            current = []
        current.extend(pack.members)
    short = [i for i, s in enumerate(seqs) if len(s) < 2]
    return [b for b in (*batches, current + short) if b]
