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
    neighbours while they share >= MIN_SHARED tokens with its first row, taking them saves
    tokens and it stays under MAX_PACKED tokens. Each member keeps at least its last token out of the prefix.
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
    """Whether row `i` joining `pack` computes fewer tokens than a pack of its own: a row
    that shares less than the pack's prefix shrinks it, and every member then computes the
    difference again ("Question: What is the capital of" shared by 80 rows, the rest of
    each question repeated by its 4 choices, costs more than one pack per question)."""
    shared = min(pack.prefix_len, _lcp(seqs[pack.members[0]], seqs[i]), len(seqs[i]) - 1)
    if shared < MIN_SHARED:
        return False
    grown = Pack(shared, [*pack.members, i])
    size = packed_len(grown, seqs)
    return size <= MAX_PACKED and size < packed_len(pack, seqs) + len(seqs[i]) - 1


def packed_len(pack: Pack, seqs: Sequence[Sequence[int]]) -> int:
    return pack.prefix_len + sum(len(seqs[i]) - 1 - pack.prefix_len for i in pack.members)


@dataclass
class _Layout:
    """Where each member's positions sit in the lines of one forward (packs laid end to end)."""

    ids: torch.Tensor  # [lines, width]
    positions: torch.Tensor  # [lines, width]: restart at 0 with each pack
    groups: torch.Tensor  # [lines, width]: which pack of the line; -1 padding
    segments: torch.Tensor  # [lines, width]: -1 prefix, k member k's own tokens, -2 padding
    where: dict[int, tuple[int, list[int]]]  # row -> (line, packed index of its positions 0..n-2)
    lines: list[list[int]]  # the rows in each line


def _lines(packs: Sequence[Pack], seqs: Sequence[Sequence[int]], several: bool
           ) -> list[list[Pack]]:
    """Packs laid end to end in lines as wide as the widest pack (first fit, widest first),
    so short packs fill the room beside long ones instead of padding; one per line unless
    `several`."""
    if not several:
        return [[p] for p in packs]
    width = max(packed_len(p, seqs) for p in packs)
    lines: list[list[Pack]] = []
    room: list[int] = []
    for pack in sorted(packs, key=lambda p: -packed_len(p, seqs)):
        size = packed_len(pack, seqs)
        b = next((b for b, r in enumerate(room) if r >= size), None)
        if b is None:
            lines.append([])
            room.append(width)
            b = len(lines) - 1
        lines[b].append(pack)
        room[b] -= size
    return lines


def _layout(lines: Sequence[Sequence[Pack]], seqs: Sequence[Sequence[int]], pad_id: int
            ) -> _Layout:
    width = max(sum(packed_len(p, seqs) for p in line) for line in lines)
    shape = (len(lines), width)
    ids = torch.full(shape, pad_id, dtype=torch.long)
    positions = torch.zeros(shape, dtype=torch.long)
    groups = torch.full(shape, -1, dtype=torch.long)
    segments = torch.full(shape, -2, dtype=torch.long)
    where: dict[int, tuple[int, list[int]]] = {}
    for b, line in enumerate(lines):
        at = 0
        for g, pack in enumerate(line):
            p, start = pack.prefix_len, at
            ids[b, at:at + p] = torch.tensor(list(seqs[pack.members[0]][:p]), dtype=torch.long)
            positions[b, at:at + p] = torch.arange(p)
            segments[b, at:at + p] = -1
            at += p
            for k, i in enumerate(pack.members):
                own = list(seqs[i][p:-1])  # the last token is predicted, never fed
                ids[b, at:at + len(own)] = torch.tensor(own, dtype=torch.long)
                positions[b, at:at + len(own)] = torch.arange(p, p + len(own))
                segments[b, at:at + len(own)] = k
                where[i] = (b, list(range(start, start + p)) + list(range(at, at + len(own))))
                at += len(own)
            groups[b, start:at] = g
    return _Layout(ids, positions, groups, segments, where,
                   [[i for pack in line for i in pack.members] for line in lines])


def _mask(layout: _Layout, dtype: torch.dtype) -> torch.Tensor:
    """[lines, 1, width, width] additive mask: a token sees the earlier tokens of its own
    pack's prefix and of its own member (padding sees earlier padding, so no row is empty)."""
    seg, grp = layout.segments, layout.groups
    index = torch.arange(seg.shape[1])
    earlier = (index[None, :] <= index[:, None])[None]
    same = (grp[:, None, :] == grp[:, :, None]) & (
        (seg[:, None, :] == -1) | (seg[:, None, :] == seg[:, :, None]))
    allowed = (earlier & same)[:, None]
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


def can_pack(model: Any) -> bool:
    return getattr(model.config, "_attn_implementation", None) in ("sdpa", "eager")


def forward_packs(model: Any, packs: Sequence[Pack], seqs: Sequence[Sequence[int]],
                  pad_id: int) -> tuple[torch.Tensor, _Layout]:
    """Logits `[lines, width, vocab]` of one forward over the packs laid in lines, and their
    layout."""
    packed = can_pack(model)
    layout = _layout(_lines(packs, seqs, packed), seqs, pad_id)
    device = model.device
    ids, positions = layout.ids.to(device), layout.positions.to(device)
    if not packed or all(len(line) == 1 for line in layout.lines):
        mask = (layout.segments != -2).long().to(device)  # right padding: plain causal rows
    else:
        mask = _mask(layout, next(model.parameters()).dtype).to(device)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
    return out.logits, layout


def pack_tops(logprobs: torch.Tensor, top: int) -> tuple[list[list[float]], list[list[int]]]:
    """The `top` best (logprob, id) at each position of a line's `log_softmax` rows
    `[width, vocab]`, computed once for all its members (a pack's share its prefix's)."""
    if not top:
        return [], []
    values, ids = logprobs.topk(top, dim=-1)
    return values.tolist(), ids.tolist()


def row_logprobs(logprobs: torch.Tensor, seq: Sequence[int], where: list[int], top: int,
                 tops: tuple[list[list[float]], list[list[int]]]
                 ) -> tuple[list[float | None], list[list[tuple[int, float]] | None] | None]:
    """One row's prompt logprobs (None first) and, with `top`, its top-k at each position,
    read from its line's `log_softmax` rows `[width, vocab]` and `pack_tops` (at least
    `top` of them)."""
    index = torch.tensor(where, device=logprobs.device)
    targets = torch.tensor(list(seq[1:]), device=logprobs.device)
    picked = logprobs[index, targets].tolist()
    if not top:
        return [None, *picked], None
    values, ids = tops
    return [None, *picked], [None, *(list(zip(ids[k][:top], values[k][:top])) for k in where)]


def score_batches(seqs: Sequence[Sequence[int]], batch_size: int, share: bool
                  ) -> list[list[int]]:
    """Row indices in batches of whole packs, shortest packs first; rows under two tokens
    (nothing to compute) come last.

    A batch's packs take no more tokens than `batch_size` of its longest row would (the
    memory of the rows unpacked), however many rows that is: a forward of many short packs
    laid in lines keeps the matrix products large (on a CPU shared with other jobs a forward
    of 200 tokens costs nearly what one of 1,000 does). Without sharing (one row a pack and
    a line), at most `batch_size` rows.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    tokens = longest = 0
    for pack in plan_packs(seqs, share):
        size = packed_len(pack, seqs)
        long = max(longest, *(len(seqs[i]) for i in pack.members))
        full = tokens + size > batch_size * long if share else len(current) >= batch_size
        if current and full:
            batches.append(current)
            current, tokens, long = [], 0, max(len(seqs[i]) for i in pack.members)
        current.extend(pack.members)
        tokens, longest = tokens + size, long
    short = [i for i, s in enumerate(seqs) if len(s) < 2]
    return [b for b in (*batches, current + short) if b]
