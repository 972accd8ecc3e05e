"""Likelihood evaluation as lm-evaluation-harness defines it: `loglikelihood`,
`loglikelihood_rolling`, `multiple_choice`.

    >>> loglikelihood(lm, [("The capital of France is", " Paris")])
    [Loglikelihood(logprob=-0.26, num_tokens=1, is_greedy=True, tokens=(' Paris',))]
    >>> r = multiple_choice(lm, [("The capital of France is", ["Paris", "Rome"], 0)])
    >>> r[0].acc, r[0].acc_norm, r[0].acc_bytes
    (1.0, 1.0, 1.0)

Each (context, continuation) pair becomes one `LmPrompt(context + continuation,
max_tokens=0, echo=True)` sent through `predict_many`, so pairs are batched on a local
model and cached like any other prompt: a rerun computes nothing.

Tokenisation, on a local model, is the harness's (`_encode_pair`): trailing whitespace of
the context moves to the continuation; the context is tokenised alone, and the continuation's
tokens are those the joined text has after as many tokens (`LmPrompt.context_split`, see
`providers/huggingface/pairs.py`). So "I like apple" + "s and pears." scores the tokens of
"I like apple" followed by those of " and pears." that the joined text has: the token that
merges across the boundary is the context's. An empty (or blank) context is scored after the
BOS token. A pair longer than the model's window is cut from the left, keeping the window
plus the last token, as the harness does; a continuation that does not fit the window after
one token of context is that pair's error. The pairs that share a context are computed in one
pass (`providers/huggingface/shared_prefix.py`).

API models (OpenAI instruct, `echo` + `max_tokens=0`) tokenise the joined text themselves:
there the continuation is the joined text's tokens after as many as the context has alone,
and an empty context is that pair's error. Where the server's tokens rebuild the text, the
context's end is found in them (the token that merges across the boundary is the context's,
as above), so a server whose tokenizer is not the one lmwrapper counts with (a model behind
vLLM, say) is scored at its own tokens; where they do not rebuild it and lmwrapper's count
of the context cannot be right, the pair's error says so (a tokenizer mismatch, not the
split). Chat-only APIs cannot score a text and refuse.

The continuation's log-likelihood is the sum of its tokens' logprobs; `is_greedy` is whether
each of them was the model's argmax there. `acc_norm` divides each choice's log-likelihood by
the choice's length in characters, `acc_bytes` by its length in UTF-8 bytes (the harness's
`completion_len` and `byte_length`, without the delimiter), before taking the argmax.
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

    `acc` / `acc_norm` / `acc_bytes` are 1.0 or 0.0 (None when a choice could not be scored: see `error`).
    """

    loglikelihoods: tuple[float, ...]
    is_greedy: tuple[bool | None, ...]
    gold: int
    pred: int | None
    pred_norm: int | None
    acc: float | None
    acc_norm: float | None
    error: str | None = None
    pred_bytes: int | None = None  # by log-likelihood per UTF-8 byte of the choice
    acc_bytes: float | None = None


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


@dataclass(frozen=True)
class _Pair:
    """One pair as sent: its prompt and where its continuation is, or why it cannot be sent."""

    prompt: LmPrompt | None = None
    n_continuation: int | None = None  # tokens at the end of the prompt (split pairs)
    n_context: int | None = None  # tokens at the start that are the context (joined text)
    error: str | None = None
    context: str = ""  # the context as sent (joined text: its end is found in the tokens)
    n_whole: int | None = None  # lmwrapper's count of the joined text (joined text)


def loglikelihood(lm: LmPredictor, pairs: Sequence[tuple[str, str]], *,
                  apply_chat_template: bool = False, system_instruction: str | None = None,
                  completion_window: CompletionWindow = CompletionWindow.ASAP,
                  progress: bool | None = None, **prompt_options: Any) -> list[Loglikelihood]:
    """The log-likelihood of each continuation given its context, in input order.

    `apply_chat_template=True` scores each continuation after its context rendered as a
    user turn (after a `system_instruction` turn, if given) by the model's chat template,
    with the assistant's header: the harness's `--apply_chat_template`.
    `prompt_options` go to every `LmPrompt` (e.g. `add_bos_token=True`, `cache=False`).
    A pair that cannot be scored gets a `Loglikelihood` with `error` set (and nan); the
    other pairs are scored.
    """
    _check_lm(lm)
    if apply_chat_template:
        pairs = _as_chat(lm, pairs, system_instruction)
    elif system_instruction is not None:
        raise ValueError("system_instruction is a chat turn: pass apply_chat_template=True "
                         "with it, or put the instruction in the context")
    split = getattr(lm, "supports_context_split", False)
    counts: dict[str, int] = {}  # context -> its tokens (contexts repeat once per choice)
    planned = [_plan_pair(lm, split, ctx, cont, counts, prompt_options) for ctx, cont in pairs]
    return _send(lm, planned, completion_window, progress)


def _send(lm: LmPredictor, planned: Sequence[_Pair], completion_window: CompletionWindow,
          progress: bool | None) -> list[Loglikelihood]:
    """The planned pairs' results, in their order, from one `predict_many`."""
    prompts = [p.prompt for p in planned if p.prompt is not None]
    preds = iter(lm.predict_many(prompts, completion_window, progress=progress)
                 if prompts else [])
    return [Loglikelihood(math.nan, 0, None, error=p.error) if p.prompt is None
            else _result(next(preds), p) for p in planned]  # type: ignore[arg-type]


def _as_chat(lm: LmPredictor, pairs: Sequence[tuple[str, str]], system: str | None
             ) -> list[tuple[str, str]]:
    """Each context rendered as the harness renders it for `--apply_chat_template`
    (`lm_eval/api/task.py`, `fewshot_context`): [system,] user turn, generation prompt."""
    render = getattr(lm, "apply_chat_template", None)
    if render is None:
        raise ValueError(f"apply_chat_template=True: lmwrapper cannot render "
                         f"{lm.model_name()}'s chat template (a local Hugging Face model's "
                         "it can); score the plain text, or a local copy of the model")
    head = [{"role": "system", "content": system}] if system else []
    rendered: dict[str, str] = {}  # contexts repeat once per choice
    for ctx, _ in pairs:
        if ctx not in rendered:
            rendered[ctx] = render([*head, {"role": "user", "content": ctx}])
    return [(rendered[ctx], cont) for ctx, cont in pairs]


def _plan_pair(lm: LmPredictor, split: bool, context: str, continuation: str,
               counts: dict[str, int], options: dict[str, Any]) -> _Pair:
    ctx, cont = split_pair(context, continuation)
    try:
        if not split:
            if not ctx:
                return _Pair(error="an empty context: this model tokenises the joined text, so "
                             "the first token has no logprob; start the text with the model's "
                             "BOS / end-of-text token yourself")
            if ctx not in counts:
                counts[ctx] = lm.estimate_tokens_in_prompt(_score_prompt(ctx, **options))
            prompt = _score_prompt(ctx + cont, **options)
            return _Pair(prompt, n_context=counts[ctx], context=ctx,
                         n_whole=lm.estimate_tokens_in_prompt(prompt))
        prompt = _score_prompt(ctx + cont, context_split=len(ctx), **options)
        if ctx not in counts:
            counts[ctx] = lm.estimate_tokens_in_prompt(
                _score_prompt(ctx, context_split=len(ctx), **options))
        return _Pair(prompt, n_continuation=lm.estimate_tokens_in_prompt(prompt) - counts[ctx])
    except ValueError as e:
        return _Pair(error=str(e))


def _result(pred: LmPrediction, pair: _Pair) -> Loglikelihood:
    if pred.has_errors:
        return Loglikelihood(math.nan, 0, None, error=pred.error_message)
    tokens, lps = pred.prompt_tokens or (), pred.prompt_logprobs or ()
    n = pair.n_continuation
    if n is None:
        n_context, mismatch = _context_end(tokens, pair)
        if mismatch:
            return Loglikelihood(math.nan, 0, None, error=mismatch)
        n = len(tokens) - n_context
    if n <= 0 or len(lps) != len(tokens):
        # the harness asserts the same: a continuation must have tokens of its own
        return Loglikelihood(math.nan, 0, None, error=(
            "the continuation has no tokens of its own (it is empty, or a token merges it "
            "into the context); move the boundary to a token edge"))
    if n >= len(tokens):
        return Loglikelihood(math.nan, 0, None, error=(
            f"the continuation alone is {n} tokens: it does not fit the model's window after "
            "a token of context; shorten it"))
    cont_lps = [float(lp) for lp in lps[-n:] if lp is not None]
    return Loglikelihood(sum(cont_lps), n, _is_greedy(pred, n), tuple(tokens[-n:]))


def _context_end(tokens: Sequence[str], pair: _Pair) -> tuple[int, str | None]:
    """How many of the server's `tokens` of the joined text are the context's, or why that
    cannot be known. Tokens that spell the text (after a BOS token, maybe) tell it
    themselves: those that start inside the context (one across the boundary is the
    context's, the harness's rule).
    Others (byte tokens, a tokenizer's own spelling) take lmwrapper's count of the context
    alone, which holds only where lmwrapper's count of the whole text is the server's."""
    assert pair.n_context is not None and pair.prompt is not None
    spelt, text = "".join(tokens), pair.prompt.get_text_as_string_default_form()
    if spelt.endswith(text):
        # a server may put a BOS token ("<s>") before the text: it is the context's too
        ends, start = 0, len(text) - len(spelt)
        for tok in tokens:
            if start >= len(pair.context):
                break
            ends, start = ends + 1, start + len(tok)
        return ends, None
    if pair.n_whole is None or pair.n_whole == len(tokens):
        return pair.n_context, None
    return pair.n_context, (
        f"tokenizer mismatch: the server split the text into {len(tokens)} tokens "
        f"({_shown(tokens)}), where the tokenizer lmwrapper counts with for this model makes "
        f"{pair.n_whole} (of them {pair.n_context} for the context alone); its tokens do not "
        "spell the text back, so where the context ends cannot be found in them. The server "
        "tokenizes differently; the context/continuation split is not at fault. Score with a "
        "model whose tokenizer lmwrapper has (the same weights as a local model: "
        "get_lm('hf/...')), or give the model's tiktoken encoding (encoding=...) if it has one.")


def _shown(tokens: Sequence[str], most: int = 6) -> str:
    """The first few tokens, as a person reads them."""
    head = ", ".join(repr(t) for t in tokens[:most])
    return f"{head}, ..." if len(tokens) > most else head


def _is_greedy(pred: LmPrediction, n: int) -> bool | None:
    """Whether each of the last `n` tokens was the argmax there (its logprob is the top one)."""
    tops, lps = pred.prompt_top_logprobs, pred.prompt_logprobs or ()
    if tops is None:
        return None
    for top, lp in zip(tops[-n:], lps[-n:]):
        if not top or lp is None:
            return None
        if lp < max(top.values()):
            return False
    return True


def loglikelihood_rolling(lm: LmPredictor, texts: Sequence[str], *,
                          completion_window: CompletionWindow = CompletionWindow.ASAP,
                          progress: bool | None = None, **prompt_options: Any
                          ) -> list[Loglikelihood]:
    """log p(text) of each whole text, every token scored (the first after the BOS token), as
    the harness's `loglikelihood_rolling` does for perplexity: `logprob / num_tokens` is the
    mean per token; bits per byte is `-logprob / (math.log(2) * len(text.encode()))`.

    A text that fits the model's window is one pair ("", text). On a local model a longer
    text is scored in the harness's rolling windows (`lm_eval.utils.get_rolling_token_windows`
    with `context_len=1`, then `make_disjoint_window`): the first window's tokens after the
    BOS token, then each next `token_limit` tokens (fewer in the last window) after as many
    of the tokens before them as fill the window; the windows' log-likelihoods are summed and
    `tokens` joined. Each window is one `LmPrompt` with a `token_slice`, cached as any other.
    On an API model every text is that text's error, as an empty context is in
    `loglikelihood` (the server tokenises the text whole: its first token has no logprob).
    """
    _check_lm(lm)
    counts: dict[str, int] = {}  # the empty context's tokens, counted once
    pairs = [_rolling(lm, text, counts, prompt_options) for text in texts]
    planned = [p for windows in pairs for p in windows]
    scores = iter(_send(lm, planned, completion_window, progress))
    return [_joined([next(scores) for _ in windows]) for windows in pairs]


def _rolling(lm: LmPredictor, text: str, counts: dict[str, int], options: dict[str, Any]
             ) -> list[_Pair]:
    """One pair ("", text) where the text fits the window (or the model takes no windows),
    else the text's windows as the harness makes them, in token ids of
    [prefix token] + the text's tokens (`context_split=0`):

        window 0: ids[0 : first + 1], its last `first` scored (first = min(limit, tokens))
        then, while tokens remain, end = scored so far + min(limit, left):
                  ids[end - limit : end + 1], its last min(limit, left) scored
    """
    split = getattr(lm, "supports_context_split", False)
    if not getattr(lm, "supports_token_slice", False):
        return [_plan_pair(lm, split, "", text, counts, options)]
    try:
        n = lm.estimate_tokens_in_prompt(_score_prompt(text, context_split=0, **options)) - 1
    except ValueError as e:
        return [_Pair(error=str(e))]
    if n <= lm.token_limit:
        return [_plan_pair(lm, split, "", text, counts, options)]  # one pair, as before
    return [_Pair(_score_prompt(text, context_split=0, token_slice=(start, end), **options),
                  n_continuation=size) for start, end, size in _windows(n, lm.token_limit)]


def _windows(n: int, limit: int) -> list[tuple[int, int, int]]:
    """(start, end, scored) of each window over the ids of [prefix token] + `n` tokens:
    `get_rolling_token_windows(context_len=1)` made disjoint, shifted by the prefix.

        >>> _windows(5, 2)
        [(0, 3, 2), (2, 5, 2), (3, 6, 1)]
    """
    windows, done = [], 0
    while done < n:
        size = min(n - done, limit)
        end = done + size
        windows.append((max(0, end - limit), end + 1, size))
        done = end
    return windows


def _joined(windows: list[Loglikelihood]) -> Loglikelihood:
    """A text's windows as one result: log-likelihoods summed, tokens joined."""
    if len(windows) == 1:
        return windows[0]
    error = next((w.error for w in windows if w.error is not None), None)
    if error is not None:
        return Loglikelihood(math.nan, 0, None, error=error)
    greedy = [w.is_greedy for w in windows]
    return Loglikelihood(sum(w.logprob for w in windows), sum(w.num_tokens for w in windows),
                         None if None in greedy else all(greedy),
                         tuple(t for w in windows for t in w.tokens))


def multiple_choice(lm: LmPredictor, items: Sequence[tuple[str, Sequence[str], int | str]], *,
                    target_delimiter: str | None = None, apply_chat_template: bool = False,
                    system_instruction: str | None = None,
                    completion_window: CompletionWindow = CompletionWindow.ASAP,
                    progress: bool | None = None, **prompt_options: Any) -> list[MultipleChoice]:
    """Score each item's choices as continuations of its context (`target_delimiter` +
    choice, as the harness does) and pick by log-likelihood (`acc`) and by log-likelihood
    per character of the choice (`acc_norm`). `gold` is an index or one of the choices.

    `target_delimiter` is " " by default, and "" with `apply_chat_template=True` (the
    choice follows the assistant's header directly, as in the harness)."""
    golds = [_gold_index(i, choices, gold) for i, (_, choices, gold) in enumerate(items)]
    delimiter = target_delimiter if target_delimiter is not None else (
        "" if apply_chat_template else " ")
    pairs = [(ctx, delimiter + c) for ctx, choices, _ in items for c in choices]
    scores = iter(loglikelihood(lm, pairs, apply_chat_template=apply_chat_template,
                                system_instruction=system_instruction,
                                completion_window=completion_window, progress=progress,
                                **prompt_options))
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
    pred_bytes = _argmax([ll / len(c.encode("utf-8")) for ll, c in zip(lls, choices)])
    return MultipleChoice(lls, greedy, gold, pred, pred_norm, float(pred == gold),
                          float(pred_norm == gold), pred_bytes=pred_bytes,
                          acc_bytes=float(pred_bytes == gold))


def _argmax(values: Sequence[float]) -> int:
    """The first index of the largest value (numpy.argmax's tie rule, which the harness uses)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def mean_scores(results: Sequence[MultipleChoice]) -> dict[str, float]:
    """Mean `acc`, `acc_norm` and `acc_bytes` over the items that could be scored, and how
    many could not."""
    ok = [r for r in results if r.error is None]
    n = len(ok) or 1
    return {"acc": sum(r.acc or 0.0 for r in ok) / n,
            "acc_norm": sum(r.acc_norm or 0.0 for r in ok) / n,
            "acc_bytes": sum(r.acc_bytes or 0.0 for r in ok) / n,
            "items": float(len(ok)), "errors": float(len(results) - len(ok))}
