"""Score-only rows packed by shared prefix (`shared_prefix`) give each row's own forward."""

from __future__ import annotations

import pytest
from hf_reference import full_logprobs

from lmwrapper.providers.huggingface.generation import Row
from lmwrapper.providers.huggingface.prefill import score
from lmwrapper.providers.huggingface.shared_prefix import (
    _lines,
    packed_len,
    plan_packs,
    score_batches,
)

TOL = 1e-4


def _rows(tiny_lm) -> list[list[int]]:
    tok = tiny_lm.tokenizer
    ctx = tok("The capital of France is")["input_ids"]
    other = tok("Once upon a time there was")["input_ids"]
    return [ctx + tok(" Paris")["input_ids"], ctx + tok(" Berlin. The capital")["input_ids"],
            ctx + tok(" Paris")["input_ids"],  # the same row twice
            ctx[:3],  # a row that is a prefix of the others
            other + tok(" a small model")["input_ids"], other[:1],  # one token: nothing to score
            other + tok(" 1 2 3")["input_ids"],
            tok("def add")["input_ids"]]  # short: beside a longer pack in its line


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_rows_score_as_each_row_alone(tiny_lm, attn):
    seqs = _rows(tiny_lm)
    model = tiny_lm.model
    previous = model.config._attn_implementation
    model.set_attn_implementation(attn)
    try:
        packs = plan_packs(seqs)
        assert any(len(p.members) > 2 for p in packs)  # sharing really happens
        assert any(len(line) > 1 for line in _lines(packs, seqs, True))  # packs share a line
        results = score(model, [Row(s, 0, top_logprobs=2, echo=True) for s in seqs],
                        tiny_lm.pad_id)
    finally:
        model.set_attn_implementation(previous)
    for seq, res in zip(seqs, results):
        assert res.finish_reason == "length" and len(res.prompt_logprobs) == len(seq)
        if len(seq) < 2:
            continue
        full = full_logprobs(tiny_lm, seq)
        expected = full[:-1].gather(-1, full.new_tensor(seq[1:]).long()[:, None])[:, 0]
        got = res.prompt_logprobs[1:]
        assert max(abs(a - float(b)) for a, b in zip(got, expected)) < TOL
        best = [t[0][1] for t in res.prompt_top_logprobs[1:]]  # the top logprob, not its id:
        assert max(abs(a - float(b)) for a, b in zip(best, full[:-1].max(-1).values)) < TOL


def test_batches_hold_whole_packs_and_every_row_once(tiny_lm):
    seqs = _rows(tiny_lm) * 3
    batches = score_batches(seqs, batch_size=4, share=True)
    assert sorted(i for b in batches for i in b) == list(range(len(seqs)))
    packs = plan_packs(seqs)
    for pack in packs:  # a pack is never split across batches
        assert sum(set(pack.members) <= set(b) for b in batches) == 1
    singles = plan_packs(seqs, share=False)
    assert all(len(p.members) == 1 for p in singles)


def test_a_row_joins_a_pack_only_where_that_computes_fewer_tokens():
    """Two questions that share their first words, four choices each: one pack per question
    (each question's tokens once), not one pack of the shared words (each question's rest
    computed four times)."""
    head = [1, 2, 3, 4]
    questions = [head + [10, 11, 12, 13, 14, 15], head + [20, 21, 22, 23, 24, 25]]
    seqs = [q + [100 + c, 200 + c] for q in questions for c in range(4)]
    packs = plan_packs(seqs)
    assert sorted(sorted(p.members) for p in packs) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert sum(packed_len(p, seqs) for p in packs) == 2 * (10 + 4)


def test_short_packs_fill_the_lines_beside_long_ones():
    long, short = list(range(1, 41)), [50, 51, 52, 53, 54, 55]
    seqs = [long + [99], short + [1], short + [2], [60, 61, 62, 63, 64, 65, 66], [70, 71, 72, 5]]
    packs = plan_packs(seqs)
    lines = _lines(packs, seqs, True)
    width = max(packed_len(p, seqs) for p in packs)
    assert len(lines) < len(packs)
    assert all(sum(packed_len(p, seqs) for p in line) <= width for line in lines)
    assert sorted(i for line in lines for p in line for i in p.members) == list(range(len(seqs)))
