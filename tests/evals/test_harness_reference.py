"""Our scores against lm-evaluation-harness's own numbers, stored once (tests/data/).

`harness_smollm2_mc100.json` holds 100 multiple-choice items (no delimiter; many choices
start mid-word, so their first token merges with the context's last) and, per choice, the
log-likelihood and is_greedy that lm-evaluation-harness computed for them on SmolLM2-135M
(`benchmarks/bench_harness.py --write-reference` made it; its "source" names the version).
`harness_smollm2_mc12_chat.json` holds the first 12 of those items as the harness scored them
with `--apply_chat_template` (`--apply-chat-template --limit 12`), and the context each was
rendered to. The suite needs no lm_eval installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmwrapper.tools.scoring import loglikelihood, multiple_choice

DATA = Path(__file__).parents[1] / "data"
REFERENCE = json.loads((DATA / "harness_smollm2_mc100.json").read_text(encoding="utf-8"))
CHAT = json.loads((DATA / "harness_smollm2_mc12_chat.json").read_text(encoding="utf-8"))
TOL = 1e-3
CLEAR = 1e-2  # a pick is compared only where the harness's best choice leads by this much


def _clear(values: list[float]) -> bool:
    top = sorted(values, reverse=True)
    return len(top) < 2 or top[0] - top[1] > CLEAR


@pytest.mark.slow
def test_every_choice_scores_as_the_harness_scored_it(smol_lm):
    items = [(x["context"], x["choices"], x["gold"]) for x in REFERENCE["items"]]
    results = multiple_choice(smol_lm, items, target_delimiter=REFERENCE["target_delimiter"])
    worst = 0.0
    for ref, r in zip(REFERENCE["items"], results, strict=True):
        assert r.error is None, (ref["context"], r.error)
        worst = max(worst, *(abs(a - b) for a, b in zip(ref["lls"], r.loglikelihoods)))
        lls = ref["lls"]
        if _clear(lls):
            assert r.acc == ref["acc"], ref["context"]
        if _clear([ll / len(c) for ll, c in zip(lls, ref["choices"])]):
            assert r.acc_norm == ref["acc_norm"], ref["context"]
        if _clear([ll / len(c.encode()) for ll, c in zip(lls, ref["choices"])]):
            assert r.acc_bytes == ref["acc_bytes"], ref["context"]
    assert worst <= TOL


@pytest.mark.slow
def test_merging_choices_differ_from_the_joined_text_and_match_the_harness(smol_lm):
    """The case the harness's split exists for: "I like plum" + "s and ...": scoring the
    joined text's tokens would give another number."""
    merged = next(x for x in REFERENCE["items"] if x["context"].startswith("I like "))
    ctx, choice = merged["context"], merged["choices"][0]
    (r,) = loglikelihood(smol_lm, [(ctx, choice)])
    assert abs(r.logprob - merged["lls"][0]) <= TOL
    tok = smol_lm.tokenizer
    assert tok(ctx + choice)["input_ids"][:len(tok(ctx)["input_ids"])] != tok(ctx)["input_ids"]


@pytest.mark.slow
def test_the_empty_context_item_is_scored_after_bos(smol_lm):
    empty = next(x for x in REFERENCE["items"] if x["context"] == "")
    got = loglikelihood(smol_lm, [("", c) for c in empty["choices"]])
    assert max(abs(r.logprob - ll) for r, ll in zip(got, empty["lls"])) <= TOL


@pytest.mark.slow
def test_chat_template_scoring_is_the_harnesss_apply_chat_template(smol_lm):
    assert CHAT["apply_chat_template"] is True
    for ref in CHAT["items"]:  # rendered by the tokenizer's template, as the harness did
        turn = [{"role": "user", "content": ref["context"]}]
        assert smol_lm.apply_chat_template(turn) == ref["harness_context"]
    items = [(x["context"], x["choices"], x["gold"]) for x in CHAT["items"]]
    results = multiple_choice(smol_lm, items, apply_chat_template=True)
    for ref, r in zip(CHAT["items"], results, strict=True):
        assert r.error is None, (ref["context"], r.error)
        assert max(abs(a - b) for a, b in zip(ref["lls"], r.loglikelihoods)) <= TOL
        if _clear(ref["lls"]):
            assert r.acc == ref["acc"], ref["context"]
