"""`make live-check`: a handful of tiny real requests per provider, to see what works today.

With `OPENAI_API_KEY` and/or `ANTHROPIC_API_KEY` set, each provider gets a text prompt and a
chat prompt live and a 2-line batch, on a cheap current model, every answer at most 16
tokens and each step refused up front above one cent (`max_cost_usd`): well under a cent in
all. A provider without its key is skipped, and with no key at all the check exits 0 having
sent nothing. Answers go to a temporary cache directory, so nothing is served from (or added
to) your cache. `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` point it elsewhere (the suite points
them at `lmwrapper.testing.FakeServer`).

    python scripts/live_check.py [--openai-model M] [--anthropic-model M] [--batch-wait S]
                                 [--background]

`--background` adds one prompt in CompletionWindow.BACKGROUND_2H for a provider that has a
background mode (OpenAI: the same model over the Responses API, `api="responses"`); it waits
up to `--batch-wait` like the batch.

Exit 0 when every check of every provider with a key works (or none has a key), 1 otherwise.
The canary for the next API change (issue 15): run it after `pip install -U`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import lmwrapper
from lmwrapper import CompletionWindow, LmChatTurn, LmPrompt

MAX_USD = 0.01  # per step; the steps together cost far less (tokens are counted first)
QUESTION = "Reply with the single word: ok"


@dataclass(frozen=True)
class Target:
    provider: str
    key_env: str
    model: str
    background: dict[str, str] | None = None  # get_lm's arguments for a background check


def _background(target: Target, cache_dir: str
                ) -> list[tuple[str, Callable[[], list[lmwrapper.LmPrediction]]]]:
    """The background check (`--background`), where the provider has a background mode."""
    if target.background is None:
        return []
    lm = lmwrapper.get_lm(f"{target.provider}/{target.model}", cache_dir=cache_dir,
                          **target.background)
    prompt = LmPrompt(f"{QUESTION} (background)", max_tokens=16)
    return [("background: 1 prompt (2h window)", lambda: list(lm.predict_many(
        [prompt], completion_window=CompletionWindow.BACKGROUND_2H, max_cost_usd=MAX_USD)))]


def _checks(lm: lmwrapper.LmPredictor) -> list[tuple[str, Callable[[], list[lmwrapper.LmPrediction]]]]:
    text = LmPrompt(QUESTION, max_tokens=16)
    chat = LmPrompt([LmChatTurn("system", "You answer in one word."),
                     LmChatTurn("user", QUESTION)], max_tokens=16)
    pair = [LmPrompt(f"{QUESTION} (line {i})", max_tokens=16) for i in (1, 2)]
    return [
        ("live: a text prompt", lambda: list(lm.predict_many([text], max_cost_usd=MAX_USD))),
        ("live: a chat prompt", lambda: list(lm.predict_many([chat], max_cost_usd=MAX_USD))),
        ("batch: 2 lines", lambda: list(lm.predict_many(
            pair, completion_window=CompletionWindow.BATCH_ANY, max_cost_usd=MAX_USD))),
    ]


def check(target: Target, cache_dir: str, background: bool = False
          ) -> list[tuple[str, str | None]]:
    """(check, None when it works, else what went wrong) for each check of `target`."""
    try:
        lm = lmwrapper.get_lm(f"{target.provider}/{target.model}", cache_dir=cache_dir)
        checks = _checks(lm) + (_background(target, cache_dir) if background else [])
    except Exception as e:  # noqa: BLE001 - a canary reports any failure as one line, not a crash
        return [("construct the model", f"{type(e).__name__}: {e}")]
    results: list[tuple[str, str | None]] = []
    for name, run in checks:
        try:
            preds = run()
        except Exception as e:  # noqa: BLE001 - whatever breaks is what the check is for
            results.append((name, f"{type(e).__name__}: {e}"))
            continue
        errors = [p.error_message for p in preds if p.has_errors]
        if errors:
            results.append((name, f"{len(errors)} of {len(preds)} answers are errors: {errors[0]}"))
        else:
            usd = sum(p.cost_usd or 0.0 for p in preds)
            results.append((name, None))
            print(f"  {target.provider}/{target.model}  {name}: works ({len(preds)} answers, "
                  f"${usd:.6f}; e.g. {preds[0].completion_text!r})")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--openai-model", default="gpt-5.4-nano")
    ap.add_argument("--anthropic-model", default="claude-haiku-5-5")
    ap.add_argument("--batch-wait", type=float, default=3600.0, metavar="S",
                    help="give up on the 2-line batch after S seconds (default 3600)")
    ap.add_argument("--background", action="store_true",
                    help="also one prompt in a background window (OpenAI's Responses "
                         "background mode), waiting up to --batch-wait")
    args = ap.parse_args(argv)
    targets = [Target("openai", "OPENAI_API_KEY", args.openai_model, {"api": "responses"}),
               Target("anthropic", "ANTHROPIC_API_KEY", args.anthropic_model)]
    ready = [t for t in targets if os.environ.get(t.key_env)]
    for t in targets:
        if t not in ready:
            print(f"live-check: {t.provider} skipped (no ${t.key_env})")
    if not ready:
        print("live-check: skipped, no API key set; nothing was sent")
        return 0
    os.environ.setdefault("LMWRAPPER_BATCH_MAX_WAIT_S", repr(args.batch_wait))
    os.environ.setdefault("LMWRAPPER_PROGRESS", "0")
    failed = []
    with tempfile.TemporaryDirectory(prefix="lmwrapper-live-check-") as cache_dir:
        for t in ready:
            for name, problem in check(t, cache_dir, args.background):
                if problem is not None:
                    failed.append(f"{t.provider}/{t.model}  {name}")
                    print(f"  {t.provider}/{t.model}  {name}: FAILS: {problem}")
    if failed:
        print(f"live-check: {len(failed)} checks fail: {'; '.join(failed)}")
        return 1
    print(f"live-check: every check works ({', '.join(t.provider for t in ready)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
