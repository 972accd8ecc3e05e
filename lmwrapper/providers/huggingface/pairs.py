"""Token ids of a (context, continuation) pair, split the way lm-evaluation-harness splits it.

`LmPrompt(text, context_split=k)` is the pair (text[:k], text[k:]). The harness
(`lm_eval/models/huggingface.py`, `_encode_pair`, and `TemplateLM.loglikelihood` for an
empty context) does not score the tokens of the joined text: it tokenises the context on its
own and takes as the continuation whatever the joined text has after as many tokens:

    context "I like apple", continuation "s and pears."
    tokens("I like apple")               = [I, like, apple]
    tokens("I like apples and pears.")   = [I, like, apples, and, pears, .]
    scored sequence                      = [I, like, apple] + [and, pears, .]

so a token that merges across the boundary is replaced by the context's own tokens, and the
continuation loses the merged piece. Trailing whitespace of the context moves to the
continuation first. An empty (or blank) context is scored after the tokenizer's BOS token
(its EOS where it has no BOS), the continuation tokenised without special tokens; where the
continuation's first token is that very token, it is the context instead.
"""

from __future__ import annotations

from typing import Any


def prefix_token_id(tokenizer: Any) -> int:
    """The token an empty context is scored after: BOS, else EOS (the harness's choice)."""
    for value in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if value is not None:
            return int(value)
    raise ValueError("LmPrompt.context_split: the context is empty and this tokenizer has no "
                     "BOS or EOS token to score the continuation after; give some context")


def encode_pair(tokenizer: Any, text: str, split: int, add_special_tokens: bool = True
                ) -> tuple[list[int], int]:
    """The pair's token ids (context's, then continuation's) and how many are the context's."""
    context = text[:split].rstrip()
    if not context:
        cont = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        prefix = prefix_token_id(tokenizer)
        return (cont, 1) if cont and cont[0] == prefix else ([prefix, *cont], 1)
    special = add_special_tokens
    first = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if first is not None and text.startswith(tokenizer.decode([first])):
        special = False  # the text brings its own BOS; the harness adds none then
    ctx = list(tokenizer(context, add_special_tokens=special)["input_ids"])
    whole = list(tokenizer(text, add_special_tokens=special)["input_ids"])
    return ctx + whole[len(ctx):], len(ctx)
