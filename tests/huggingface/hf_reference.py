"""Plain `transformers` calls, one prompt at a time, no padding: what our batches must equal."""

from __future__ import annotations

import os

import torch

# The converted SmolLM2 lives in the suite's models directory (tests/models_dir.py), which
# the root conftest puts in $LMWRAPPER_MODELS_DIR before any test runs.
MODELS_DIR = os.environ["LMWRAPPER_MODELS_DIR"]


def greedy(lm, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
    """`model.generate(do_sample=False)` on one unpadded prompt; end-of-sequence stripped."""
    ids = torch.tensor([prompt_ids])
    with torch.inference_mode():
        out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                max_new_tokens=max_new_tokens, pad_token_id=lm.pad_id,
                                eos_token_id=sorted(lm.eos_ids))
    new = out[0, len(prompt_ids):].tolist()
    for i, t in enumerate(new):
        if t in lm.eos_ids:
            return new[:i]
    return new


def token_logprobs(lm, ids: list[int]) -> list[float]:
    """log p(ids[t] | ids[:t]) for t >= 1, from one plain forward pass."""
    x = torch.tensor([ids])
    with torch.inference_mode():
        logits = lm.model(x).logits[0].float()
    lp = torch.log_softmax(logits[:-1], dim=-1)
    return lp.gather(-1, x[0, 1:, None])[:, 0].tolist()


def full_logprobs(lm, ids: list[int]) -> torch.Tensor:
    """[len(ids), vocab] log-softmax of the model's logits at every position."""
    with torch.inference_mode():
        return torch.log_softmax(lm.model(torch.tensor([ids])).logits[0].float(), dim=-1)


def hidden_states(lm, ids: list[int]) -> list:
    with torch.inference_mode():
        out = lm.model(torch.tensor([ids]), output_hidden_states=True)
    return [h[0].float().numpy() for h in out.hidden_states]
