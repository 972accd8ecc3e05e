"""`estimate_cost` on a local model counts the run's tokens with the model's own tokenizer
(free, but its size matters: it says how long the run will take and what fits)."""

from __future__ import annotations

from lmwrapper.structs import LmPrompt


def test_estimate_counts_tokens_with_the_tokenizer(tiny_lm):
    prompts = [LmPrompt("The capital of France is", max_tokens=7, num_completions=3),
               LmPrompt("def add(a, b):"), "Numbers: 0 1 2"]
    est = tiny_lm.estimate_cost(prompts)
    sizes = [len(tiny_lm.tokenizer(t)["input_ids"])
             for t in ("The capital of France is", "def add(a, b):", "Numbers: 0 1 2")]
    assert est.free and est.priced and est.total_usd == 0.0 and est.prompts == 3
    assert est.input_tokens == sum(sizes)
    # 3 samples of 7, the model's default for max_tokens=None, and a bare string's 100
    default = tiny_lm.default_max_tokens(LmPrompt("def add(a, b):"))
    assert est.max_output_tokens == 3 * 7 + default + 100
