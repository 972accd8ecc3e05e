"""`lmwrapper run`: a JSONL file of prompts through a model, answers as JSONL in input order.

    lmwrapper run --model openai/gpt-4o-mini prompts.jsonl -o out.jsonl
    lmwrapper run --model openai/gpt-4o-mini prompts.jsonl --dry-run    # tokens + cost only

Each input line is one of
    "What is 2+2?"                                    a prompt string
    [{"role": "system", "content": "..."}, "Hi"]      chat turns (strings alternate user/assistant)
    {"prompt": "..." or [...turns], "max_tokens": 5, "temperature": 0, "id": "q1", ...}
where the object form takes any `LmPrompt` field (`text`/`messages` are accepted for
`prompt`), an `id` copied to the output, and `metadata`. `--max-tokens`/`--temperature`
apply to lines that do not set them. Each output line is the prediction's fields plus
`index` (and `id`); with `num_completions` it holds `samples` instead. Answers are written
as they become ready, in input order; the cache makes a rerun after a crash free.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from lmwrapper.abstract_predictor import LmPredictor
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.errors import LmWrapperError
from lmwrapper.structs import LmPrediction, LmPrompt

_PROMPT_FIELDS = {f.name for f in dataclasses.fields(LmPrompt)} - {"text"}
_TEXT_KEYS = ("prompt", "text", "messages")


def add_run_parser(subparsers: Any) -> None:
    """Register `run` on the `lmwrapper` command's subparsers."""
    p = subparsers.add_parser("run", help="run a JSONL file of prompts through a model",
                              description=__doc__.split("\n")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog=__doc__.split("\n", 2)[2])
    p.add_argument("input", help="JSONL file of prompts ('-' for stdin)")
    p.add_argument("--model", "-m", required=True, help="provider/name, e.g. openai/gpt-4o-mini")
    p.add_argument("-o", "--output", default="-", help="JSONL answers (default: stdout)")
    p.add_argument("--dry-run", action="store_true", help="print the token and cost estimate only")
    p.add_argument("--base-url", default=None, help="an OpenAI-compatible server (openai only)")
    p.add_argument("--max-concurrency", type=int, default=None, help="requests in flight")
    p.add_argument("--max-cost-usd", type=float, default=None,
                   help="refuse to start when the run could cost more")
    p.add_argument("--batch", action="store_true", help="CompletionWindow.BATCH_ANY (batch price)")
    p.add_argument("--max-tokens", type=int, default=None, help="default max_tokens per prompt")
    p.add_argument("--temperature", type=float, default=None, help="default temperature")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        prompts, ids = read_prompts(args.input, args.max_tokens, args.temperature)
        lm = make_lm(args.model, base_url=args.base_url, max_concurrency=args.max_concurrency,
                     cache_dir=getattr(args, "cache_dir", None), cache_default=not args.no_cache)
    except (ValueError, KeyError) as e:
        print(f"lmwrapper run: {e}", file=sys.stderr)
        return 2
    window = CompletionWindow.BATCH_ANY if args.batch else CompletionWindow.ASAP
    if args.dry_run:
        return dry_run(lm, prompts, window)
    try:
        write_answers(lm, prompts, ids, window, args.max_cost_usd, args.output)
    except LmWrapperError as e:  # no key, over the cost limit, bad key ...: say so, no traceback
        print(f"lmwrapper run: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"lmwrapper run: {lm.last_run}", file=sys.stderr)
    return 0


def write_answers(lm: LmPredictor, prompts: list[LmPrompt], ids: list[Any],
                  window: CompletionWindow, max_cost_usd: float | None, output: str) -> None:
    results = lm.predict_many(prompts, window, max_cost_usd=max_cost_usd)  # checks the cost
    out: TextIO = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
    try:
        for i, (result, id_) in enumerate(zip(results, ids)):
            out.write(json.dumps(output_record(i, id_, result), ensure_ascii=False) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()


def dry_run(lm: LmPredictor, prompts: list[LmPrompt], window: CompletionWindow) -> int:
    from lmwrapper.costs import uncached

    todo, samples = uncached(lm, prompts, window)
    est = lm.estimate_cost(todo, window, samples=samples)
    print(f"model: {lm.model_name()}  window: {window.value}")
    print(f"prompts: {len(prompts)}  cached: {len(prompts) - len(todo)}  to send: {len(todo)} "
          f"({sum(samples)} samples)")
    print(f"input tokens: {est.input_tokens}  output tokens (upper bound): {est.max_output_tokens}")
    if est.priced:
        print(f"cost upper bound: ${est.total_usd:.6f} "
              f"(input ${est.input_usd:.6f} + output ${est.output_usd:.6f})")
    else:
        print("cost upper bound: unknown (no price for this model)")
    return 0


def read_prompts(path: str, max_tokens: int | None = None,
                 temperature: float | None = None) -> tuple[list[LmPrompt], list[Any]]:
    """Prompts and ids from a JSONL file; a bad line raises ValueError naming its number."""
    prompts, ids = [], []
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                prompt, id_ = parse_line(json.loads(line), max_tokens, temperature)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"{path} line {number}: {e}") from None
            prompts.append(prompt)
            ids.append(id_)
    return prompts, ids


def parse_line(value: Any, max_tokens: int | None = None,
               temperature: float | None = None) -> tuple[LmPrompt, Any]:
    """One JSON value → (LmPrompt, id or None)."""
    if isinstance(value, (str, list)):
        value = {"prompt": value}
    if not isinstance(value, dict):
        raise ValueError(f"expected a string, a list of chat turns or an object; got {value!r}")
    fields = dict(value)
    id_ = fields.pop("id", None)
    texts = [k for k in _TEXT_KEYS if k in fields]
    if len(texts) != 1:
        raise ValueError(f"give the prompt in exactly one of {', '.join(_TEXT_KEYS)}")
    text = fields.pop(texts[0])
    unknown = set(fields) - _PROMPT_FIELDS
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}; known: id, "
                         f"{', '.join(_TEXT_KEYS)}, {', '.join(sorted(_PROMPT_FIELDS))}")
    if max_tokens is not None:
        fields.setdefault("max_tokens", max_tokens)
    if temperature is not None:
        fields.setdefault("temperature", temperature)
    return LmPrompt.from_dict({"text": text, **fields}), id_


def output_record(index: int, id_: Any, result: LmPrediction | list[LmPrediction]) -> dict[str, Any]:
    rec: dict[str, Any] = {"index": index}
    if id_ is not None:
        rec["id"] = id_
    if isinstance(result, list):
        rec["samples"] = [p.to_dict(include_prompt=False) for p in result]
    else:
        rec.update(result.to_dict(include_prompt=False))
    return rec


def _openai(name: str, **kw: Any) -> LmPredictor:
    from lmwrapper.openai_wrapper import get_open_ai_lm

    return get_open_ai_lm(name, **kw)


def _anthropic(name: str, base_url: str | None = None, **kw: Any) -> LmPredictor:
    from lmwrapper.claude_wrapper import get_claude_lm

    return get_claude_lm(name, base_url=base_url, **kw)


def _hf(name: str, base_url: str | None = None, max_concurrency: int | None = None,
        **kw: Any) -> LmPredictor:
    from lmwrapper.huggingface_wrapper import get_huggingface_lm  # type: ignore[attr-defined]

    return get_huggingface_lm(name, **kw)


PROVIDERS: dict[str, Callable[..., LmPredictor]] = {
    "openai": _openai, "anthropic": _anthropic, "claude": _anthropic, "hf": _hf,
    "huggingface": _hf,
}


def make_lm(spec: str, *, base_url: str | None = None, max_concurrency: int | None = None,
            cache_dir: str | None = None, cache_default: bool = True) -> LmPredictor:
    """`openai/gpt-4o-mini` → the model; ValueError naming the known providers otherwise."""
    provider, sep, name = spec.partition("/")
    if not sep or provider not in PROVIDERS or not name:
        raise ValueError(f"--model must be provider/name with provider one of "
                         f"{', '.join(PROVIDERS)} (e.g. openai/gpt-4o-mini); got {spec!r}")
    kw: dict[str, Any] = {"cache_dir": cache_dir, "cache_default": cache_default}
    if provider == "openai" or base_url:
        kw["base_url"] = base_url
    if max_concurrency is not None:
        kw["max_concurrency"] = max_concurrency
    try:
        return PROVIDERS[provider](name, **kw)
    except ImportError as e:
        raise ValueError(f"the {provider} backend is not available here ({e})") from None
