"""Likelihood evaluation as lm-evaluation-harness defines it: `loglikelihood`, `multiple_choice`.

    >>> loglikelihood(lm, [("The capital of France is", " Paris")])
    [Loglikelihood(logprob=-0.26, num_tokens=1, is_greedy=True, tokens=(' Paris',))]
    >>> r = multiple_choice(lm, [("The capital of France is", ["Paris", "Rome"], 0)])
    >>> r[0].acc, r[0].acc_norm
    (1.0, 1.0)

Each (context, continuation) pair becomes one `LmPrompt(context + continuation,
max_tokens=0, echo=True)` sent through `predict_many`, so pairs are batched on a local
model and cached like any other prompt: a rerun computes nothing.

Tokenisation follows the harness (`_encode_pair`): trailing whitespace of the context moves
to the continuation; context + continuation is tokenised whole and split where the
context's own tokens end (`len(encode(context))`), so a token that merges across the
boundary counts as the continuation's. The continuation's log-likelihood is the sum of its
tokens' logprobs; `is_greedy` is whether each of them was the model's argmax there.
`acc_norm` divides each choice's log-likelihood by the choice's length in characters
(the harness's `completion_len`, without the delimiter) before taking the argmax.

Backends: local Hugging Face models, and OpenAI instruct models (legacy completions,
`echo` + `max_tokens=0`). Chat-only APIs cannot score a text and refuse the prompts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.predictor import LmPredictor


@dataclass(frozen=True)
class Loglikelihood:
    """log p(continuation | context), summed over the continuation's tokens.

    `is_greedy` is None when the backend returned no top logprobs for the prompt; `error`
    holds the prediction's error (then `logprob` is nan).
    """

    logprob: float
    num_tokens: int
    is_greedy: bool | None
    tokens: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class MultipleChoice:
    """One multiple-choice item: every choice's log-likelihood, the picks and the scores.

    `acc` / `acc_norm` are 1.0 or 0.0 (None when a choice could not be scored: see `error`).
    """

    loglikelihoods: tuple[float, ...]
    is_greedy: tuple[bool | None, ...]
    gold: int
    pred: int | None
    pred_norm: int | None
    acc: float | None
    acc_norm: float | None
    error: str | None = None


def split_pair(context: str, continuation: str) -> tuple[str, str]:
    """The harness's boundary: trailing whitespace of the context starts the continuation.

        >>> split_pair("Question: 2+2?\\nAnswer: ", "4")
        ('Question: 2+2?\\nAnswer:', ' 4')
    """
    stripped = context.rstrip()
    return stripped, context[len(stripped):] + continuation


def _check_lm(lm: LmPredictor) -> None:
    # A predictor forced into chat mode wraps every string in the chat template, which
    # adds tokens after the context: the text it would score is not context + continuation.
    if getattr(getattr(lm, "encoder", None), "forced", None) is True:
        raise ValueError("scoring needs plain text prompts, but this model was built with "
                         "use_chat_mode=True; build it with use_chat_mode=None (the default)")


def _score_prompt(text: str, **options: Any) -> LmPrompt:
    return LmPrompt(text, max_tokens=0, echo=True, logprobs=1, temperature=0.0, **options)


def loglikelihood(lm: LmPredictor, pairs: Sequence[tuple[str, str]], *,
                  completion_window: CompletionWindow = CompletionWindow.ASAP,
                  progress: bool | None = None, **prompt_options: Any) -> list[Loglikelihood]:
    """The log-likelihood of each continuation given its context, in input order.

    `prompt_options` go to every `LmPrompt` (e.g. `add_bos_token=True`, `cache=False`).
    Raises `ValueError` before anything runs when a context is empty or blank.
    """
    _check_lm(lm)
    split = []
    for i, (context, continuation) in enumerate(pairs):
        ctx, cont = split_pair(context, continuation)
        if not ctx:
            raise ValueError(
                f"loglikelihood: pair {i} has an empty context, so its first token has no "
                "logprob; start the text with the model's BOS / end-of-text token yourself")
        split.append((ctx, cont))
    prompts = [_score_prompt(ctx + cont, **prompt_options) for ctx, cont in split]
    n_context = [lm.estimate_tokens_in_prompt(_score_prompt(ctx, **prompt_options))
                 for ctx, _ in split]
    preds = lm.predict_many(prompts, completion_window, progress=progress)
    return [_result(p, n) for p, n in zip(preds, n_context)]  # type: ignore[arg-type]


def _result(pred: LmPrediction, n_context: int) -> Loglikelihood:
    if pred.has_errors:
        return Loglikelihood(math.nan, 0, None, error=pred.error_message)
    tokens, lps = pred.prompt_tokens or (), pred.prompt_logprobs or ()
    if n_context >= len(tokens) or len(lps) != len(tokens):
        # the harness asserts the same: a continuation must have tokens of its own
        return Loglikelihood(math.nan, 0, None, error=(
            f"the continuation has no tokens of its own: context + continuation is "
            f"{len(tokens)} tokens, the context alone {n_context} (a token merges across the "
            "boundary, or the continuation is empty); move the boundary to a token edge"))
    cont_lps = [float(lp) for lp in lps[n_context:] if lp is not None]
    return Loglikelihood(sum(cont_lps), len(tokens) - n_context, _is_greedy(pred, n_context),
                         tuple(tokens[n_context:]))


def _is_greedy(pred: LmPrediction, n_context: int) -> bool | None:
    """Whether every continuation token was the argmax there (its logprob is the top one)."""
    tops, lps = pred.prompt_top_logprobs, pred.prompt_logprobs or ()
    if tops is None:
        return None
    for top, lp in zip(tops[n_context:], lps[n_context:]):
        if not top or lp is None:
            return None
        if lp < max(top.values()):
            return False
    return True


def multiple_choice(lm: LmPredictor, items: Sequence[tuple[str, Sequence[str], int | str]], *,
                    target_delimiter: str = " ",
                    completion_window: CompletionWindow = CompletionWindow.ASAP,
                    progress: bool | None = None, **prompt_options: Any) -> list[MultipleChoice]:
    """Score each item's choices as continuations of its context (`target_delimiter` +
    choice, as the harness does) and pick by log-likelihood (`acc`) and by log-likelihood
    per character of the choice (`acc_norm`). `gold` is an index or one of the choices."""
    golds = [_gold_index(i, choices, gold) for i, (_, choices, gold) in enumerate(items)]
    pairs = [(ctx, target_delimiter + c) for ctx, choices, _ in items for c in choices]
    scores = iter(loglikelihood(lm, pairs, completion_window=completion_window,
                                progress=progress, **prompt_options))
    return [_choose([next(scores) for _ in choices], choices, gold)
            for (_, choices, _), gold in zip(items, golds)]


def _gold_index(i: int, choices: Sequence[str], gold: int | str) -> int:
    if not choices or any(not isinstance(c, str) or not c for c in choices):
        raise ValueError(f"multiple_choice: item {i} needs a list of non-empty strings as "
                         f"choices; got {choices!r}")
    if isinstance(gold, str):
        if gold not in choices:
            raise ValueError(f"multiple_choice: item {i}'s gold {gold!r} is not one of its "
                             f"choices {list(choices)!r}; give an index or the exact choice")
        return list(choices).index(gold)
    if not isinstance(gold, int) or isinstance(gold, bool) or not 0 <= gold < len(choices):
        raise ValueError(f"multiple_choice: item {i}'s gold must be an index in "
                         f"[0, {len(choices)}) or one of the choices; got {gold!r}")
    return gold


def _choose(scores: list[Loglikelihood], choices: Sequence[str], gold: int) -> MultipleChoice:
    lls = tuple(s.logprob for s in scores)
    greedy = tuple(s.is_greedy for s in scores)
    error = next((s.error for s in scores if s.error is not None), None)
    if error is not None:
        return MultipleChoice(lls, greedy, gold, None, None, None, None, error)
    pred = _argmax(lls)
    pred_norm = _argmax([ll / len(c) for ll, c in zip(lls, choices)])
    return MultipleChoice(lls, greedy, gold, pred, pred_norm, float(pred == gold),
                          float(pred_norm == gold))


def _argmax(values: Sequence[float]) -> int:
    """The first index of the largest value (numpy.argmax's tie rule, which the harness uses)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def mean_scores(results: Sequence[MultipleChoice]) -> dict[str, float]:
    """Mean `acc` and `acc_norm` over the items that could be scored, and how many could not."""
    ok = [r for r in results if r.error is None]
    n = len(ok) or 1
    return {"acc": sum(r.acc or 0.0 for r in ok) / n,
            "acc_norm": sum(r.acc_norm or 0.0 for r in ok) / n,
            "items": float(len(ok)), "errors": float(len(results) - len(ok))}
