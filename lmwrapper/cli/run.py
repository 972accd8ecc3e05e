"""`lmwrapper run`: a JSONL file of prompts through a model, answers as JSONL in input order.

    lmwrapper run --model openai/gpt-5.4-mini prompts.jsonl -o out.jsonl
    lmwrapper run --model openai/gpt-5.4-mini prompts.jsonl --dry-run   # tokens + cost only
    lmwrapper run --model openai/gpt-5.4-mini prompts.jsonl --window flex   # the batch price, live

Each input line is one of
    "What is 2+2?"                                    a prompt string
    [{"role": "system", "content": "..."}, "Hi"]      chat turns (strings alternate user/assistant)
    {"prompt": "..." or [...turns], "max_tokens": 5, "temperature": 0, "id": "q1", ...}
where the object form takes any `LmPrompt` field (`text`/`messages` are accepted for
`prompt`) and `metadata`; every other field (`id`, a gold `label`, ...) is copied to the
output line and into the prompt's metadata. `--max-tokens`/`--temperature` and the reasoning
flags `--reasoning-effort`/`--verbosity`/`--thinking` apply to lines that do not set them
(an effort sweep: one line per prompt and effort, `"reasoning_effort": "low"` ...). Each output line is `index`, those columns, then the prediction's
fields; with `num_completions` it holds `samples` instead. A string line for a local
instruct model is sent as a one-turn chat, through the model's template (`--no-chat-mode`:
as plain text). Answers are written as they become ready, in input order; the cache makes a
rerun after a crash free.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import functools
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from lmwrapper.cli.batch import add_max_wait, max_wait, run_submit
from lmwrapper.cli.exits import exit_for_errors
from lmwrapper.cli.jsonline import encode_line
from lmwrapper.core.errors import LmWrapperError, RequestTooLargeError
from lmwrapper.core.gcpause import gc_frozen, gc_paused
from lmwrapper.core.money import format_usd
from lmwrapper.core.prompt import (
    REASONING_EFFORTS,
    VERBOSITIES,
    LmPrediction,
    LmPrompt,
    prompt_of,
)
from lmwrapper.core.window import BACKGROUND_WINDOWS, CompletionWindow
from lmwrapper.core.words import counted
from lmwrapper.engine.plan import (
    BARE_STRING_MAX_TOKENS,
    InvalidPromptError,
    Plan,
    checked_prompts,
)
from lmwrapper.engine.predictor import LmPredictor
from lmwrapper.engine.run import Results
from lmwrapper.providers.registry import provider_of
from lmwrapper.store.db import CACHE_FILE_NAME, get_cache_dir
from lmwrapper.tools.sharding import add_shard_argument, apply_shard

# --window: CompletionWindow ASAP … BATCH_ANY (background-2h: BACKGROUND_2H)
WINDOWS = ("asap", "flex", "priority", "background-2h", "background-8h", "batch")
_PROMPT_FIELDS = {f.name for f in dataclasses.fields(LmPrompt)} - {"text"}
_TEXT_KEYS = ("prompt", "text", "messages")
_OUTPUT_FIELDS = {"index", "samples", "usage"} | {
    f.name for f in dataclasses.fields(LmPrediction)} - {"prompt", "internals"}


FLUSH_S = 0.2  # longest an answer written to the output waits in the buffer


class Refused(ValueError):
    """A flag, the input or the output cannot work: one line for the user, exit 2, nothing sent."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
    return value


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be an amount of US dollars >= 0; got {text!r}")
    return value


def _thinking(text: str) -> str | int:
    """--thinking: "adaptive", "disabled", or a budget (checked as the prompt field is)."""
    value: str | int = int(text) if text.strip().isdigit() else text
    try:
        LmPrompt("x", thinking=value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).replace("LmPrompt.thinking must be ", "must be "))
    return value


def _reasoning_defaults(args: argparse.Namespace) -> dict[str, Any]:
    """The reasoning flags given, as prompt fields for the lines that do not set them."""
    names = ("reasoning_effort", "verbosity", "thinking")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def add_run_parser(subparsers: Any) -> None:
    """Register `run` on the `lmwrapper` command's subparsers."""
    p = subparsers.add_parser("run", help="run a JSONL file of prompts through a model",
                              description=__doc__.split("\n")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog=__doc__.split("\n", 2)[2])
    p.add_argument("input", help="JSONL file of prompts ('-' for stdin)")
    p.add_argument("--model", "-m", required=True, help="provider/name, e.g. openai/gpt-5.4-mini")
    p.add_argument("-o", "--output", default="-", help="JSONL answers (default: stdout)")
    p.add_argument("--dry-run", action="store_true", help="print the token and cost estimate only")
    p.add_argument("--base-url", default=None, help="an OpenAI-compatible server (API models only)")
    p.add_argument("--max-concurrency", type=_positive_int, default=None,
                   help="requests in flight (API models only)")
    p.add_argument("--max-cost-usd", type=_usd, default=None,
                   help="refuse to start when the run could cost more")
    p.add_argument("--batch", action="store_true",
                   help="CompletionWindow.BATCH_ANY: the batch API at its price, where the "
                        "model's backend has one (otherwise the run is live, and says so). "
                        "Submits and returns; rerun the same command to collect")
    p.add_argument("--wait", action="store_true",
                   help="with --batch: wait for the batches and write the answers")
    p.add_argument("--window", choices=WINDOWS, default=None,
                   help="when the answers are needed, and so their price: asap (live, the "
                        "default), flex (live at OpenAI's flex tier: the batch price, "
                        "slower), priority (live at OpenAI's priority tier: faster, about "
                        "2x), background-2h / background-8h (OpenAI's Responses background "
                        "mode: 30%% / 40%% off, answered within 2 h / 8 h; a rerun collects "
                        "what a stopped run left), batch (the same as --batch). A model not "
                        "sold in a window is refused before anything is sent")
    add_max_wait(p)
    p.add_argument("--max-tokens", type=_positive_int, default=None,
                   help="max_tokens of lines that do not set it (default: 100, as a bare "
                        "string prompt in Python)")
    p.add_argument("--temperature", type=float, default=None, help="default temperature")
    p.add_argument("--reasoning-effort", choices=REASONING_EFFORTS, default=None,
                   help="default reasoning effort (OpenAI reasoning_effort, Claude "
                        "output_config.effort); the model's own rules say which it takes")
    p.add_argument("--verbosity", choices=VERBOSITIES, default=None,
                   help="default verbosity (OpenAI GPT-5 and later)")
    p.add_argument("--thinking", type=_thinking, default=None,
                   help="default Claude thinking: adaptive, disabled, or a budget of thinking "
                        "tokens (an int >= 1024)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--allow-errors", action="store_true",
                   help="exit 0 when every line was written, even if some answers are errors "
                        "(default: exit 1 and count them on stderr)")
    p.add_argument("--chat-mode", action=argparse.BooleanOptionalAction, default=None,
                   help="local models: send string lines through the model's chat template "
                        "(default: yes when the model has one; --no-chat-mode: plain text)")
    add_shard_argument(p)
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    # what the input's lines made is frozen out of the collector's scans until the command
    # ends (see prepare)
    with contextlib.ExitStack() as frozen:
        return _run_command(args, frozen)


def _run_command(args: argparse.Namespace, frozen: contextlib.ExitStack) -> int:
    try:
        lm, prompts, rows, window = prepare(args, frozen)
    except Refused as e:
        print(f"lmwrapper run: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        return dry_run(lm, prompts, window)
    try:
        if window is CompletionWindow.BATCH_ANY and not args.wait:
            def write_all() -> int:
                return write_answers(lm, prompts, rows, CompletionWindow.BATCH_ANY, None,
                                     args.output)

            return run_submit(lm, prompts, write_all, args.max_cost_usd, args.output,
                              cache_dir=args.cache_dir, allow_errors=args.allow_errors)
        with max_wait(args.max_wait):
            failed = write_answers(lm, prompts, rows, window, args.max_cost_usd, args.output)
    except KeyboardInterrupt:
        return _interrupted(lm, prompts, window, args)
    except LmWrapperError as e:  # no key, over the cost limit, bad key ...: say so, no traceback
        print(f"lmwrapper run: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"lmwrapper run: {lm.last_run}", file=sys.stderr)
    return exit_for_errors(failed, len(prompts), args.allow_errors,
                           fresh=lm.last_run.failed if lm.last_run else None)


def prepare(args: argparse.Namespace, frozen: contextlib.ExitStack | None = None
            ) -> tuple[LmPredictor, list[LmPrompt], list[dict[str, Any]], CompletionWindow]:
    """Check the flags, then the output folder, then read the input and make the model:
    everything that can be wrong is found here, before anything is sent. `frozen`: the
    prompts and columns read are frozen out of the collector's scans until it closes."""
    check_flags(args.max_tokens, args.temperature)
    args.batch = _batch_flag(args.batch, getattr(args, "window", None))
    check_batch_flags(args.batch, getattr(args, "wait", False), args.no_cache,
                      getattr(args, "max_wait", None),
                      background=str(getattr(args, "window", None)).startswith("background"))
    check_output(args.output, args.input)
    try:
        with gc_paused():  # a million lines: the collector would rescan every prompt read so far
            prompts, rows = read_prompts(args.input, args.max_tokens, args.temperature,
                                         defaults=_reasoning_defaults(args))
            if frozen is not None:  # frozen before the collector is back on: never scanned
                frozen.enter_context(gc_frozen())  # (at 1,000,000 lines: 0.8 s of scans)
        lm = make_lm(args.model, base_url=args.base_url, max_concurrency=args.max_concurrency,
                     cache_dir=getattr(args, "cache_dir", None),
                     cache_default=not args.no_cache and not _dry_run_without_cache(args),
                     chat_mode=getattr(args, "chat_mode", None))
        prompts = apply_chat_mode(args.model, lm, prompts, getattr(args, "chat_mode", None))
        prompts, rows = apply_shard(args, lm, prompts, rows)
        prompts = check_prompts(lm, prompts, rows)  # marked valid: the run does not ask again
        window = _window(lm, args.batch, getattr(args, "window", None))
    except (ValueError, KeyError) as e:
        raise Refused(str(e)) from None
    return lm, prompts, rows, window


def check_prompts(lm: LmPredictor, prompts: list[LmPrompt], rows: list[dict[str, Any]]
                  ) -> list[LmPrompt]:
    """What the model cannot take (a reasoning effort it lacks, ...) is refused here, as one
    line naming the prompt, rather than as a traceback once the run has started. The prompts,
    marked as checked by this model (its plans do not validate them again)."""
    try:
        return checked_prompts(lm.backend, prompts)
    except InvalidPromptError as e:
        columns = rows[e.index]
        which = f"id {columns['id']!r}" if "id" in columns else f"number {e.index + 1}"
        raise ValueError(f"prompt {which}: {e}") from None


def _dry_run_without_cache(args: argparse.Namespace) -> bool:
    """A dry run writes nothing: where no cache file exists yet, it looks nothing up (nothing
    is cached) rather than create one."""
    if not getattr(args, "dry_run", False):
        return False
    directory = Path(args.cache_dir) if getattr(args, "cache_dir", None) else get_cache_dir()
    return not (directory / CACHE_FILE_NAME).exists()


def check_flags(max_tokens: int | None, temperature: float | None) -> None:
    """The defaults the flags give every prompt must be valid prompt fields themselves, so a
    bad flag is blamed on the flag and not on line 1 of the input."""
    try:
        if max_tokens is not None:
            LmPrompt("x", max_tokens=max_tokens)
        if temperature is not None:
            LmPrompt("x", temperature=temperature)
    except ValueError as e:  # "LmPrompt.max_tokens must be ..." → "--max-tokens must be ..."
        message = str(e)
        for field in ("max_tokens", "temperature"):
            message = message.replace(f"LmPrompt.{field}", "--" + field.replace("_", "-"))
        raise Refused(message) from None


def check_batch_flags(batch: bool, wait: bool, no_cache: bool,
                      max_wait_s: float | None = None, *, background: bool = False) -> None:
    """Submit-and-return keeps the answers in the cache until a rerun writes them out."""
    if max_wait_s is not None and not (batch and wait) and not background:
        raise Refused("--max-wait applies to --batch --wait and the background windows only "
                      "(a live run's requests have their own deadlines)")
    if wait and not batch:
        raise Refused("--wait applies to --batch only (a live run always waits); drop --wait "
                      "or add --batch")
    if batch and not wait and no_cache:
        raise Refused("--batch without --wait keeps the answers in the cache until a rerun "
                      "writes them; with --no-cache add --wait (or drop --no-cache)")


def check_output(output: str, source: str = "-") -> None:
    """Refuse an output path that cannot be written, or that is the input (writing answers
    would wipe the prompts, and a run stopped midway would leave neither), before any answer
    is paid for."""
    if output == "-":
        return
    path = Path(output)
    folder = path.parent
    if source != "-" and path.exists() and os.path.samefile(path, source):
        raise Refused(f"-o {output} is the input file; writing the answers there would erase "
                      f"the prompts. Write them elsewhere, e.g. -o {path.with_suffix('')}"
                      f".answers.jsonl")
    if path.is_dir():
        raise Refused(f"-o {output} is a folder; give a file name, e.g. -o {path / 'answers.jsonl'}")
    if not folder.is_dir():
        raise Refused(f"-o {output}: the folder {folder} does not exist; create it "
                      f"(mkdir -p {folder}) or write elsewhere")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise Refused(f"-o {output}: cannot write there (permission denied); choose another path")


def _batch_flag(batch: bool, window: str | None) -> bool:
    """`--window batch` is `--batch`; `--batch` with another window is a contradiction."""
    if batch and window not in (None, "batch"):
        raise Refused(f"--batch and --window {window} ask for two windows; give one")
    return batch or window == "batch"


def _window(lm: LmPredictor, batch: bool, name: str | None = None) -> CompletionWindow:
    """The run's window; a service tier the model is not sold at raises ValueError (why,
    and what to use instead)."""
    if name is not None and name not in ("asap", "batch"):
        window = CompletionWindow(name.replace("-", "_"))
        lm.backend.check_window(window)
        return window
    if not batch:
        return CompletionWindow.ASAP
    if lm.backend.supports_batch:
        return CompletionWindow.BATCH_ANY
    # Until this backend has a batch engine, --batch would run live while claiming the batch
    # price: run it live, price it live, and say so.
    print(f"lmwrapper run: --batch: lmwrapper has no batch engine for {lm.model_name()} yet; "
          f"these prompts run live, at the live price (and --dry-run prices them live).",
          file=sys.stderr)
    return CompletionWindow.ASAP


def write_answers(lm: LmPredictor, prompts: list[LmPrompt], rows: list[dict[str, Any]],
                  window: CompletionWindow, max_cost_usd: float | None, output: str) -> int:
    """Write one answer line per prompt, in input order; the number of lines whose answer (or
    any of whose samples) is an error."""
    with contextlib.ExitStack() as frozen:
        # The plan (a million keys and rows) is made with the collector off and frozen out
        # of its scans before it is back on, until the lines are written: what a line makes
        # is freed by its reference count, and rescanning the plan's heap cost a sixth of a
        # cached run.
        with gc_paused():
            results = lm.predict_many(prompts, window, max_cost_usd=max_cost_usd)  # checks the cost
            frozen.enter_context(gc_frozen())
        return _write(lm, results, rows, output)


def _write(lm: LmPredictor, results: Results, rows: list[dict[str, Any]], output: str) -> int:
    answers = results.dicts()  # a cached answer straight from its row, no LmPrediction
    failed = 0
    out: TextIO = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115  (closed below unless stdout)
    # Lines reach the file at least every FLUSH_S, not one write(2) each: a cached line is
    # ready every few microseconds, and a flush per line was a third of a cached run.
    flushed = time.monotonic()
    try:
        # A run with nothing to send (no runner, no threads) makes no cycles at all: there
        # the collector stays off, which also spares a scan of each few thousand cached
        # answers decoded ahead.
        with gc_paused() if _nothing_to_send(lm) else contextlib.nullcontext():
            for i, (result, columns) in enumerate(zip(answers, rows, strict=False)):
                if isinstance(result, list):
                    out.write(encode_line({"index": i, **columns, "samples": result}) + "\n")
                    failed += any(p["error_message"] is not None for p in result)
                else:
                    out.write(encode_line({"index": i, **columns, **result}) + "\n")
                    failed += result["error_message"] is not None
                if (now := time.monotonic()) - flushed >= FLUSH_S:
                    out.flush()
                    flushed = now
        out.flush()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stops the run: nothing new is sent, what arrives is stored
        if out is not sys.stdout:
            out.close()
    return failed


def _nothing_to_send(lm: LmPredictor) -> bool:
    """The run just planned is answered by the cache (and the plan's own refusals) alone."""
    return lm.last_run is not None and lm.last_run.to_send == 0


def _interrupted(lm: LmPredictor, prompts: list[LmPrompt], window: CompletionWindow,
                 args: argparse.Namespace) -> int:
    """Ctrl-C: say how much is safe in the cache and how to go on; exit 130 like a shell."""
    total = len(prompts)
    try:
        if args.no_cache:
            print(f"lmwrapper run: interrupted; nothing is cached (--no-cache), so a rerun "
                  f"starts over ({counted(total, 'prompt')})", file=sys.stderr)
            return 130
        plan = Plan(lm, prompts, window)
        todo, _ = plan.uncached()
        # counted as the dry run counts: a repeated line is one prompt, answered once
        unique = len(set(plan.keys))
        saved = unique - len(todo) - len(plan.refused)
        batches = ("; the batches already sent go on at the provider (their answers are paid "
                   "for): the rerun collects them without sending them again, and `lmwrapper "
                   "batch list` / `batch abandon JOB` stop them"
                   if window is CompletionWindow.BATCH_ANY and saved < unique else
                   "; the background responses already created go on at the provider (their "
                   "answers are paid for): a rerun in a background window collects them "
                   "without creating them again"
                   if window in BACKGROUND_WINDOWS and saved < unique else "")
        print(f"lmwrapper run: interrupted; {saved} of {counted(unique, 'answer')} saved; rerun the same "
              f"command to resume{batches}", file=sys.stderr)
    except KeyboardInterrupt:
        print("lmwrapper run: interrupted again; stopped without counting the saved answers",
              file=sys.stderr)
    except LmWrapperError as e:
        print(f"lmwrapper run: interrupted; could not count the saved answers ({e})", file=sys.stderr)
    return 130


def dry_run(lm: LmPredictor, prompts: list[LmPrompt], window: CompletionWindow) -> int:
    plan = Plan(lm, prompts, window)
    todo, samples = plan.uncached()
    est = lm.estimate_cost(todo, window, samples=samples)
    unique = len(set(plan.keys))  # a repeated line is sent (and paid for) once
    print(f"model: {lm.model_name()}  window: {window.value}")
    # refused before sending, neither sent nor priced: too large to send or store (an error
    # not cached), or over the context window (the prompt's error)
    too_large = [e for e in plan.refused.values() if isinstance(e, RequestTooLargeError)]
    over = [e for e in plan.refused.values() if not isinstance(e, RequestTooLargeError)]
    print(f"prompts: {len(prompts)}  unique: {unique}  "
          f"cached: {unique - len(todo) - len(plan.refused)}  "
          f"to send: {len(todo)} ({counted(sum(samples), 'sample')})")
    if over:
        print(f"over the context window: {len(over)} (refused, not sent; each is its prompt's "
              f"error). The first: {over[0]}")
    if too_large:
        print(f"refused: {len(too_large)} (too large; not sent, not priced): {too_large[0]}")
    tokens_in, tokens_out = est.input_tokens, est.max_output_tokens
    if (est.free or not est.priced) and todo and not tokens_in:  # a local model: its tokenizer counts
        tokens_in, tokens_out = _count_tokens(lm, todo, samples)
    print(f"input tokens: {tokens_in}  output tokens (upper bound): {tokens_out}")
    if est.free:
        print("cost: $0 (a local model)")
    elif est.priced:
        print(f"cost upper bound: {format_usd(est.total_usd)} "
              f"(input {format_usd(est.input_usd)} + output {format_usd(est.output_usd)})")
        print("\n".join(window_costs(lm, todo, samples)))
    else:
        print("cost upper bound: unknown (no price for this model)")
    return 0


# The windows a dry run prices side by side, fastest-to-answer cheapest first
_SIDE_BY_SIDE = (CompletionWindow.ASAP, CompletionWindow.FLEX, CompletionWindow.BATCH_ANY,
                 CompletionWindow.BACKGROUND_8H, CompletionWindow.BACKGROUND_2H,
                 CompletionWindow.PRIORITY)


def window_costs(lm: LmPredictor, todo: list[LmPrompt], samples: list[int]) -> list[str]:
    """One line per window: what the uncached prompts could cost at most in it (the
    model's price data at that window's rate), or why the model is not sold in it.

        cost by window (upper bound):
          asap          $0.0123    (input $0.00234 + output $0.01)
          flex          $0.00617   (input $0.00117 + output $0.005)
    """
    lines = ["cost by window (upper bound):"]
    for window in _SIDE_BY_SIDE:
        name = "batch" if window is CompletionWindow.BATCH_ANY else \
            window.value.replace("_", "-")
        try:
            lm.backend.check_window(window)
        except ValueError:
            why = ("OpenAI's Responses API only (api='responses')"
                   if window in BACKGROUND_WINDOWS else "not sold for this model")
            lines.append(f"  {name:<13} {why}")
            continue
        if window is CompletionWindow.BATCH_ANY and not lm.backend.supports_batch:
            lines.append(f"  {name:<13} no batch API here (--batch runs live, at the asap price)")
            continue
        est = lm.estimate_cost(todo, window, samples=samples)
        lines.append(f"  {name:<13} {format_usd(est.total_usd):<10} (input "
                     f"{format_usd(est.input_usd)} + output {format_usd(est.output_usd)})"
                     if est.priced else
                     f"  {name:<13} price unknown")
    return lines


def _count_tokens(lm: LmPredictor, todo: list[LmPrompt], samples: list[int]) -> tuple[Any, Any]:
    """(input, output upper bound) tokens by the model's own tokenizer and chat template; the
    weights are not loaded. "unknown" where the model cannot count."""
    try:
        tokens_in = sum(lm.estimate_tokens_in_prompt(p) for p in todo)
        tokens_out = sum((p.max_tokens or lm.default_max_tokens(p)) * n
                         for p, n in zip(todo, samples, strict=True))
    except NotImplementedError:
        return "unknown", "unknown"
    return tokens_in, tokens_out


def read_prompts(path: str, max_tokens: int | None = None, temperature: float | None = None,
                 *, defaults: dict[str, Any] | None = None
                 ) -> tuple[list[LmPrompt], list[dict[str, Any]]]:
    """Prompts and their passed-through columns (`id`, labels, ...) from a JSONL file; a bad
    line raises ValueError naming its number. `defaults` fill prompt fields a line lacks."""
    prompts, rows = [], []
    for number, line in _lines(path):
        try:
            value = _json_line(line)
        except json.JSONDecodeError as e:
            example = json.dumps(line.strip()[:60])
            raise ValueError(f"{path} line {number} is not JSON ({e.msg}); write each prompt as "
                             f"a JSON value, e.g. {example}") from None
        if "\\u" in line:  # a surrogate can only come in as an escape: the file is UTF-8
            _refuse_lone_surrogates(value, path, number)
        try:
            prompt, cols = parse_line(value, max_tokens, temperature, defaults=defaults)
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{path} line {number}: {e}") from None
        prompts.append(prompt)
        rows.append(cols)
    return prompts, rows


# json's own (C) scanner, as json.loads uses it (not in typeshed's JSONDecoder)
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_line(line: str) -> Any:
    """`json.loads(line)`, a third cheaper for the usual line (a value from its first
    character, then only whitespace); any other line, and every error, is json.loads's."""
    try:
        value, end = _scan(line, 0)
    except StopIteration:
        return json.loads(line)
    if end != len(line) and line[end:].strip(" \t\n\r"):  # JSON's whitespace, no other
        return json.loads(line)  # raises: extra data after the value
    return value


def _refuse_lone_surrogates(value: Any, path: str, number: int) -> None:
    """JSON lets `"\\ud800"` stand alone, but such text is not Unicode and cannot be hashed,
    stored or sent: refuse it here, by line, rather than with a traceback later."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end].encode("unicode_escape", "backslashreplace").decode()
        raise ValueError(f"{path} line {number} holds {bad}, half of a UTF-16 surrogate pair, "
                         f"which is not valid text; fix how the file was written (escape whole "
                         f"characters, e.g. \\ud83d\\ude00 for one emoji)") from None


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """(number, line) for the non-blank lines of `path` ('-': stdin); ValueError when the file
    cannot be read, naming it."""
    try:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise ValueError(f"input file {path} does not exist") from None
    except OSError as e:
        raise ValueError(f"cannot read input file {path}: {e.strerror}") from None
    with f:
        number = 0
        try:
            for number, line in enumerate(f, 1):
                if number == 1:  # a UTF-8 BOM, as Excel and Notepad write one, is not the line's
                    line = line.removeprefix("\ufeff")
                if line and not line.isspace():  # not blank (what strip() strips; no copy)
                    yield number, line
        except UnicodeDecodeError:
            raise ValueError(f"{path} line {number + 1} is not UTF-8 text; save the file as "
                             f"UTF-8 JSONL") from None


def parse_line(value: Any, max_tokens: int | None = None, temperature: float | None = None,
               *, defaults: dict[str, Any] | None = None) -> tuple[LmPrompt, dict[str, Any]]:
    """One JSON value → (LmPrompt, the columns copied to its output line: `id` and any field
    that is not a prompt field, e.g. a gold label; those also go into the prompt's metadata)."""
    if isinstance(value, (str, list)):
        value = {"prompt": value}
    if not isinstance(value, dict):
        raise TypeError(f"expected a string, a list of chat turns or an object; got {value!r}")
    text, names, column_names, extra_names = _shape(tuple(value))
    # the prompt's fields, text first (as LmPrompt.from_dict was given them), and the columns
    fields: dict[str, Any] = {"text": value[text]}
    for k in names:
        fields[k] = value[k]
    columns = {k: value[k] for k in column_names}
    if extra_names:  # columns besides `id` go into the metadata too
        extra = {k: value[k] for k in extra_names}
        meta = fields.get("metadata")
        fields["metadata"] = {**extra, **meta} if isinstance(meta, dict) else meta or extra
    # as a bare string in Python (the seed's rule): a line without max_tokens asks for 100
    # tokens, not the model's whole output limit ("max_tokens": null asks for that)
    if "max_tokens" not in fields:
        fields["max_tokens"] = BARE_STRING_MAX_TOKENS if max_tokens is None else max_tokens
    if temperature is not None:
        fields.setdefault("temperature", temperature)
    for name, default in (defaults or {}).items():
        fields.setdefault(name, default)
    if "model_internals_request" in fields:
        return LmPrompt.from_dict(fields), columns
    return prompt_of(fields), columns


@functools.lru_cache(maxsize=256)  # the lines of a file share a few shapes: worked out once each
def _shape(keys: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """How an object line with these keys (in this order) divides: its prompt field, its other
    prompt fields, its columns, and the columns that also go into the metadata (all but `id`).
    A line without exactly one prompt field, or with a column that looks misspelt or that the
    output would overwrite, raises ValueError (the shape is not kept: the line is refused)."""
    texts = [k for k in _TEXT_KEYS if k in keys]
    if len(texts) != 1:
        raise ValueError(_no_prompt_field(dict.fromkeys(keys), texts))
    names = tuple(k for k in keys if k in _PROMPT_FIELDS)
    columns = tuple(k for k in keys if k not in _PROMPT_FIELDS and k != texts[0])
    _check_columns(columns)
    return texts[0], names, columns, tuple(k for k in columns if k != "id")


def _no_prompt_field(fields: dict[str, Any], texts: list[str]) -> str:
    """Why an object line has no single prompt field, naming what it has and, for a misspelt
    or differently cased `prompt` (`promt`, `Prompt`), the field it looks like."""
    want = f"give the prompt in exactly one of {', '.join(_TEXT_KEYS)}"
    if texts:
        return f"the line has {' and '.join(texts)}: {want}"
    for name in fields:
        close = difflib.get_close_matches(name.lower(), _TEXT_KEYS, n=1, cutoff=0.75)
        if close:
            return f"no prompt field: did you mean {close[0]!r} instead of {name!r}? ({want})"
    has = ", ".join(repr(k) for k in fields) or "no fields"
    return f"no prompt field (the line has {has}); {want}, e.g. rename your text column to 'prompt'"


def _check_columns(columns: Iterable[str]) -> None:
    """A column that looks like a misspelt prompt field, or that the output line would
    overwrite, is refused: passing it through silently would lose it or its meaning."""
    for name in columns:
        problem = _column_problem(name)
        if problem:
            raise ValueError(problem)


@functools.lru_cache(maxsize=1024)  # every line names the same columns: difflib once per name
def _column_problem(name: str) -> str | None:
    close = difflib.get_close_matches(name, sorted(_PROMPT_FIELDS), n=1, cutoff=0.8)
    if close:
        return (f"unknown field {name!r}: did you mean {close[0]!r}? (other fields are copied "
                f"to the output line; known prompt fields: {', '.join(sorted(_PROMPT_FIELDS))})")
    if name in _OUTPUT_FIELDS:
        return (f"field {name!r} would be overwritten by the output's {name!r}; rename the "
                f"column (e.g. to 'input_{name}')")
    return None


def make_lm(spec: str, *, base_url: str | None = None, max_concurrency: int | None = None,
            cache_dir: str | None = None, cache_default: bool = True,
            chat_mode: bool | None = None) -> LmPredictor:
    """`openai/gpt-4o-mini` → the model, by `lmwrapper.providers.registry` (the names `get_lm` takes);
    ValueError with "did you mean" otherwise, or when a flag does not apply to the model."""
    provider, name = provider_of(spec)
    kw: dict[str, Any] = {"cache_dir": cache_dir, "cache_default": cache_default}
    if provider.local:
        _refuse_api_flags(spec, base_url, max_concurrency)
        if chat_mode is False:  # no template at all, for chat lines too (see apply_chat_mode)
            kw["use_chat_mode"] = False
    else:
        if chat_mode is not None:
            raise ValueError(f"--chat-mode/--no-chat-mode apply to local models only; {spec} is "
                             f"an API model (give a prompt as chat turns to send a chat)")
        if base_url:
            kw["base_url"] = base_url
        if max_concurrency is not None:
            kw["max_concurrency"] = max_concurrency
    try:
        return provider.make(name, **kw)
    except ImportError as e:
        raise ValueError(f"the {provider.name} backend is not available here ({e})") from None


def apply_chat_mode(spec: str, lm: LmPredictor, prompts: list[LmPrompt],
                    chat_mode: bool | None) -> list[LmPrompt]:
    """On the command line a string line for a local instruct model is a question, not text to
    continue: it is sent as a one-turn chat (the model's template applies) unless
    --no-chat-mode. A real chat prompt, not a flag in the model's identity, so its cache key
    says what was sent."""
    if chat_mode is False or not provider_of(spec)[0].local:
        return prompts
    # the model's identity knows whether it has a template: asking the tokenizer would load it
    # (and torch) even for a fully cached run
    if not _has_chat_template(lm):
        if chat_mode:
            raise ValueError(f"--chat-mode: {lm.model_name()} has no chat template; drop the flag "
                             f"to send string lines as plain text")
        return prompts
    return [p if p.is_text_a_chat() else dataclasses.replace(p, text=[str(p.text)])
            for p in prompts]


def _has_chat_template(lm: LmPredictor) -> bool:
    try:
        return bool(lm.is_chat_model)
    except NotImplementedError:
        return bool(getattr(getattr(lm, "tokenizer", None), "chat_template", None))


def _refuse_api_flags(spec: str, base_url: str | None, max_concurrency: int | None) -> None:
    """A local model runs in this process: flags about API servers would be silently ignored."""
    if base_url is not None:
        raise ValueError(f"--base-url does not apply to {spec}: a local model runs in this "
                         f"process. For a model behind an OpenAI-compatible server (vLLM, TGI, "
                         f"llama.cpp) use --model openai/NAME --base-url URL")
    if max_concurrency is not None:
        raise ValueError(f"--max-concurrency does not apply to {spec}: a local model runs its "
                         f"prompts in batches on this machine's device; drop the flag")
