"""Batched decoding: left-padded rows through one KV cache, each row with its own settings.

    rows ─► left pad + attention mask + position ids ─► prefill (one forward) ─► loop:
            choose a token per active row (greedy, or sampled with the row's own generator;
            a row with a response format chooses among the tokens its grammar allows)
            ─► record its logprob and the top-k ─► finished rows leave the batch (the KV
            cache drops them) ─► feed the chosen tokens back

Why our own loop rather than `model.generate`: each row keeps its own temperature, top_p,
max_tokens, stop strings and seed inside one batch; a row's samples come from its own
`torch.Generator`, so a seeded prompt gives the same sample alone or in any batch; and the
logprobs we report are the model's own `log_softmax` at each step, comparable with a plain
forward pass. Greedy rows give exactly the tokens `model.generate(do_sample=False)` gives.

Continuous batching: with `width` smaller than the number of rows, at most `width` rows
decode at once; when rows leave, the next waiting rows are prefilled (one forward over them)
and spliced into the running batch: their KV cache and the running one are left-padded to
one length and joined on the batch dimension, so the batch stays full. Columns that no
running row attends to any more are cut from the left, so the cache stays as long as its
longest row. Padding is masked and positions follow each row's own tokens, so a row's tokens
are the ones it gets alone. A cache that cannot be spliced (a sliding-window layer, say)
runs the waiting rows as the next batch once the running one has emptied.

A row is handed over the moment it finishes: `on_done(i, result)` is called as row `i`
leaves the batch, before the next forward pass, so a caller can store it while the other
rows still decode (a batch of 64 rows is as slow as its longest row).

Stopping: `should_stop()` is read before the prefill, between decode steps, and (through
`stopping.interruptible`) between the modules of each forward pass, so a stop returns within
one module's time. Rows unfinished then keep `finish_reason=None` and are never passed to
`on_done`: a partial answer is never reported as complete.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lmwrapper.providers.huggingface.stopping import (
    RUNNING,
    ShouldStop,
    Stopped,
    interruptible,
    stop_check,
)


@dataclass
class Row:
    """One sequence to generate: one sample of one prompt."""

    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    top_logprobs: int = 0
    echo: bool = False
    seed: int | None = None  # used when temperature > 0
    stopped: Callable[[list[int]], bool] | None = None  # True once a stop string appeared
    constraint: Callable[[], Any] | None = None  # makes the row's `constrained.Constraint`


@dataclass
class RowResult:
    token_ids: list[int] = field(default_factory=list)  # generated, end-of-sequence excluded
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    finish_reason: str | None = None  # "stop" or "length" once the row is done; None: unfinished
    prompt_logprobs: list[float | None] | None = None
    prompt_top_logprobs: list[list[tuple[int, float]] | None] | None = None  # with echo and top_logprobs


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device: Any
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids, attention_mask and position_ids for left-padded `seqs`.

    Position ids count real tokens only, so a padded row sees the positions it would see alone.
    """
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s):] = torch.tensor(list(s), dtype=torch.long)
            mask[i, width - len(s):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def accepts_logits_to_keep(model: Any) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


def _kv_name(model: Any) -> str:
    """The forward's name for the KV cache: `cache` from transformers 5.x on, which warns on
    every run ("`past_key_values` is deprecated") for the older `past_key_values`."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


OnDone = Callable[[int, RowResult], None]  # (index in rows, its finished result)


def generate(model: Any, rows: Sequence[Row], pad_id: int, eos_ids: set[int],
             should_stop: ShouldStop | None = None, on_done: OnDone | None = None,
             width: int | None = None) -> list[RowResult]:
    """Decode every row; results in the order of `rows`. At most `width` rows (all of them
    when None) decode at once, finished rows replaced by waiting ones in the order of `rows`
    (see the module docstring). `on_done(i, result)` is called once for each row as it
    finishes.

    Returns soon after `should_stop()` turns true; rows not finished by then have
    `finish_reason` None (see the module docstring).
    """
    results = [RowResult() for _ in rows]
    stop = stop_check(should_stop)
    if stop():
        return results
    with RUNNING, interruptible(model, stop), torch.inference_mode():
        try:
            _decode(model, rows, pad_id, eos_ids, results, stop, on_done or _ignore,
                    len(rows) if width is None else max(1, width))
        except Stopped:
            pass
    return results


def _ignore(i: int, res: RowResult) -> None:
    """The default `on_done`: the caller reads the results when `generate` returns."""


def _decode(model: Any, rows: Sequence[Row], pad_id: int, eos_ids: set[int],
            results: list[RowResult], stop: ShouldStop, on_done: OnDone, width: int) -> None:
    device = model.device
    waiting = list(range(len(rows)))[::-1]  # popped from the end: the order of `rows`
    active = [waiting.pop() for _ in range(min(width, len(rows)))]  # row index per position
    logits, past, mask, positions = _prefill(model, [rows[i] for i in active], pad_id,
                                             [results[i] for i in active])
    splice = _can_splice(past)
    sampler = _Sampler(rows, logits.shape[-1], device)
    sampler.admit(active)
    last_pos = positions[:, -1]
    kv = _kv_name(model)
    while True:
        chosen = sampler.choose(logits, active)
        logprobs = torch.log_softmax(logits, dim=-1)  # the model's own, before any mask
        _record(logprobs, chosen, active, rows, results)
        keep = _still_running(active, rows, results, eos_ids, sampler, on_done)
        if stop() or not (keep or waiting):
            return
        if not keep:  # the batch emptied: the waiting rows start a new one
            active = []
        elif len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long, device=device)
            past.batch_select_indices(index)
            mask, chosen, last_pos = mask[index], chosen[index], last_pos[index]
            active = [active[b] for b in keep]
            if splice:
                mask = _trim(past, mask)
        if active:
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            last_pos = last_pos + 1
            out = model(input_ids=chosen[:, None], attention_mask=mask,
                        position_ids=last_pos[:, None], use_cache=True, **{kv: past})
            logits = out.logits[:, -1, :].float()
            past = getattr(out, kv)
        room = width - len(active)
        if waiting and room > 0 and (splice or not active):
            new = [waiting.pop() for _ in range(min(room, len(waiting)))]
            n_logits, n_past, n_mask, n_pos = _prefill(model, [rows[i] for i in new], pad_id,
                                                       [results[i] for i in new])
            sampler.admit(new)
            if active:
                mask = _join(past, mask, n_past, n_mask)
                logits = torch.cat([logits, n_logits])
                last_pos = torch.cat([last_pos, n_pos[:, -1]])
            else:
                logits, past, mask, last_pos = n_logits, n_past, n_mask, n_pos[:, -1]
                splice = _can_splice(past)
            active = active + new


def _can_splice(past: Any) -> bool:
    """A cache whose layers are plain growing key/value tensors `[batch, heads, seq, dim]`."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    layers = getattr(past, "layers", None) or []
    return (type(past) is DynamicCache and bool(layers)
            and all(type(layer) is DynamicLayer and layer.is_initialized for layer in layers))


def _pad_left(x: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    """`x` left-padded with zeros to `width` along `dim` (masked out wherever it is used)."""
    missing = width - x.shape[dim]
    if missing <= 0:
        return x
    shape = list(x.shape)
    shape[dim] = missing
    return torch.cat([x.new_zeros(shape), x], dim=dim)


def _join(past: Any, mask: torch.Tensor, new_past: Any, new_mask: torch.Tensor
          ) -> torch.Tensor:
    """Append the rows of `new_past` to `past` (in place), both left-padded to one length;
    the joined attention mask."""
    width = max(mask.shape[1], new_mask.shape[1])
    for layer, new in zip(past.layers, new_past.layers, strict=True):
        layer.keys = torch.cat([_pad_left(layer.keys, width, 2), _pad_left(new.keys, width, 2)])
        layer.values = torch.cat([_pad_left(layer.values, width, 2),
                                  _pad_left(new.values, width, 2)])
    return torch.cat([_pad_left(mask, width, 1), _pad_left(new_mask, width, 1)])


def _trim(past: Any, mask: torch.Tensor) -> torch.Tensor:
    """Cut the leading columns no running row attends to (padding, or rows that left) from
    the cache and the mask; the mask that is left."""
    used = mask.any(dim=0)
    lead = int(used.long().argmax()) if bool(used.any()) else 0
    if lead == 0:
        return mask
    for layer in past.layers:
        layer.keys, layer.values = layer.keys[:, :, lead:], layer.values[:, :, lead:]
    return mask[:, lead:]


def _prefill(model: Any, rows: Sequence[Row], pad_id: int, results: list[RowResult]
             ) -> tuple[torch.Tensor, Any, torch.Tensor, torch.Tensor]:
    """One forward over the prompts: last logits, KV cache, mask and positions, one per row.

    Rows with the same prompt (the samples of one prompt) share one prefill; its KV cache is
    then copied to each of them, as `num_return_sequences` does.
    """
    device = model.device
    unique: dict[tuple[int, ...], int] = {}
    owner = [unique.setdefault(tuple(r.prompt_ids), len(unique)) for r in rows]
    ids, mask, positions = left_pad(list(unique), pad_id, device)
    echo = any(r.echo for r in rows)
    kwargs = {} if echo or not accepts_logits_to_keep(model) else {"logits_to_keep": 1}
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **kwargs)
    if echo:
        _prompt_logprobs(out.logits, ids, owner, rows, results)
    logits, past = out.logits[:, -1, :].float(), getattr(out, _kv_name(model))
    if len(unique) < len(rows):
        index = torch.tensor(owner, device=device)
        past.batch_select_indices(index)
        logits, mask, positions = logits[index], mask[index], positions[index]
    return logits, past, mask, positions


def _prompt_logprobs(logits: torch.Tensor, ids: torch.Tensor, owner: list[int],
                     rows: Sequence[Row], results: list[RowResult]) -> None:
    """Logprob of each prompt token given the ones before it (None for the first)."""
    width = ids.shape[1]
    for i, row in enumerate(rows):
        if not row.echo:
            continue
        u = owner[i]  # the row of the (shared) prefill
        start = width - len(row.prompt_ids)
        lp = torch.log_softmax(logits[u, start:-1].float(), dim=-1)
        targets = ids[u, start + 1:]
        picked = lp.gather(-1, targets[:, None])[:, 0].tolist()
        results[i].prompt_logprobs = [None, *picked] if row.prompt_ids else []
        if row.top_logprobs and row.prompt_ids:  # the argmax at each position: is it greedy?
            top_v, top_i = lp.topk(row.top_logprobs, dim=-1)
            results[i].prompt_top_logprobs = [None, *(list(zip(a, b)) for a, b in zip(
                top_i.tolist(), top_v.tolist()))]


def _record(logprobs: torch.Tensor, chosen: torch.Tensor, active: list[int],
            rows: Sequence[Row], results: list[RowResult]) -> None:
    picked = logprobs.gather(-1, chosen[:, None])[:, 0].tolist()
    k = max(rows[i].top_logprobs for i in active)
    top_v, top_i = logprobs.topk(max(k, 1), dim=-1)
    tokens = chosen.tolist()
    for b, i in enumerate(active):
        res = results[i]
        res.token_ids.append(tokens[b])
        res.logprobs.append(picked[b])
        if rows[i].top_logprobs:
            n = rows[i].top_logprobs
            res.top_logprobs.append(list(zip(top_i[b, :n].tolist(), top_v[b, :n].tolist())))


def _still_running(active: list[int], rows: Sequence[Row], results: list[RowResult],
                   eos_ids: set[int], sampler: _Sampler, on_done: OnDone) -> list[int]:
    """Batch positions of the rows that go on; each row that finished here is handed to
    `on_done` now, before the next forward pass (a stop after it keeps it)."""
    keep = []
    for b, i in enumerate(active):
        if _finished(rows[i], results[i], eos_ids, sampler.constraints.get(i)):
            sampler.forget(i)
            on_done(i, results[i])
        else:
            keep.append(b)
    return keep


def _finished(row: Row, res: RowResult, eos_ids: set[int], constraint: Any = None) -> bool:
    if res.token_ids[-1] in eos_ids:
        res.token_ids.pop()
        res.logprobs.pop()
        if res.top_logprobs:
            res.top_logprobs.pop()
        res.finish_reason = "stop"
        return True
    if row.stopped is not None and row.stopped(res.token_ids):
        res.finish_reason = "stop"
        return True
    if constraint is not None and constraint.done:  # the JSON value is complete
        res.finish_reason = "stop"
        return True
    if len(res.token_ids) >= row.max_new_tokens:
        res.finish_reason = "length"
        return True
    return False


class _Sampler:
    """Chooses the next token per row: argmax at temperature 0, else top-p sampling.

    Penalties follow OpenAI's definition: logit -= frequency * count + presence * (count > 0),
    counting the row's generated tokens. Rows with a constraint (a response format) choose
    among the tokens their grammar allows, and each chosen token advances their matcher.
    """

    def __init__(self, rows: Sequence[Row], vocab: int, device: Any) -> None:
        self.rows, self.vocab, self.device = rows, vocab, device
        self.generators: dict[int, torch.Generator] = {}
        self.penalised = any(r.presence_penalty or r.frequency_penalty for r in rows)
        self.counts: dict[int, torch.Tensor] = {}  # generated-token counts of penalised rows
        self.constraints: dict[int, Any] = {}

    def admit(self, active: list[int]) -> None:
        """Each row's state, made as it joins the batch (and dropped by `forget` as it leaves)."""
        for i in active:
            r = self.rows[i]
            if r.temperature > 0:
                g = torch.Generator(device=self.device)
                g.manual_seed(r.seed if r.seed is not None else secrets.randbits(63))
                self.generators[i] = g
            if self.penalised:
                self.counts[i] = torch.zeros(self.vocab, device=self.device)
            if r.constraint:
                self.constraints[i] = r.constraint()

    def forget(self, i: int) -> None:
        self.generators.pop(i, None)
        self.counts.pop(i, None)
        self.constraints.pop(i, None)

    def choose(self, logits: torch.Tensor, active: list[int]) -> torch.Tensor:
        if self.penalised:
            logits = self._penalise(logits, active)
        if any(i in self.constraints for i in active):
            logits = logits.clone()  # the caller's logits give the reported logprobs
            for b, i in enumerate(active):
                if i in self.constraints:
                    self.constraints[i].mask_(logits[b])
        chosen = logits.argmax(dim=-1)
        for b, i in enumerate(active):
            if i in self.generators:
                chosen[b] = self._sample(logits[b], self.rows[i], self.generators[i])
        if self.penalised:
            for b, i in enumerate(active):
                self.counts[i][chosen[b]] += 1
        if self.constraints:
            tokens = chosen.tolist()
            for b, i in enumerate(active):
                if i in self.constraints:
                    self.constraints[i].advance(tokens[b])
        return chosen

    def _penalise(self, logits: torch.Tensor, active: list[int]) -> torch.Tensor:
        counts = torch.stack([self.counts[i] for i in active])
        freq = torch.tensor([self.rows[i].frequency_penalty for i in active], device=logits.device)
        pres = torch.tensor([self.rows[i].presence_penalty for i in active], device=logits.device)
        return logits - freq[:, None] * counts - pres[:, None] * (counts > 0).float()

    @staticmethod
    def _sample(logits: torch.Tensor, row: Row, generator: torch.Generator) -> torch.Tensor:
        probs = torch.softmax(logits / row.temperature, dim=-1)
        if row.top_p < 1.0:
            sorted_p, order = probs.sort(descending=True)
            cumulative = sorted_p.cumsum(-1)
            sorted_p[(cumulative - sorted_p) >= row.top_p] = 0.0  # keeps at least the top token
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        return torch.multinomial(probs, 1, generator=generator)[0]
