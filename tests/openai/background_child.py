"""A real process running prompts on a Responses-only model in CompletionWindow.BACKGROUND_2H
against the fake, optionally killing itself (SIGKILL) at one step. Used by
tests/openai/test_background.py:

    python -m tests.openai.background_child BASE_URL POINT N OUT CACHE_DIR

POINT: none; while_polling (before the first poll: every response created and recorded);
inside_create (right after the second create returned, before its id is recorded).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.providers.openai.background import OpenAiBackgroundAdapter
from lmwrapper.structs import LmPrompt
from tests.openai.conftest import API_KEY

MODEL = "gpt-5-pro"  # served only by the Responses API (models.toml's endpoint)


def die_at(name: str, *, before: bool, nth: int = 1) -> None:
    """SIGKILL at the `nth` call of the adapter's `name`: before it, or right after it returns."""
    orig = getattr(OpenAiBackgroundAdapter, name)
    calls = [0]

    def f(self, *a, **k):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if before and calls[0] >= nth:
            os.kill(os.getpid(), signal.SIGKILL)
        result = orig(self, *a, **k)
        if not before and calls[0] >= nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(OpenAiBackgroundAdapter, name, f)


POINTS = {
    "none": lambda: None,
    "while_polling": lambda: die_at("retrieve", before=True),
    "inside_create": lambda: die_at("create", before=False, nth=2),
}


def main() -> None:
    base_url, point, n, out, cache_dir = sys.argv[1:6]
    POINTS[point]()
    # one request at a time: "the second create" is one request, not a race of eight
    lm = get_open_ai_lm(MODEL, api_key_secret=API_KEY, base_url=base_url, cache_dir=cache_dir,
                        max_concurrency=1)
    prompts = [LmPrompt(f"q{i}", max_tokens=16) for i in range(int(n))]
    preds = list(lm.predict_many(prompts, CompletionWindow.BACKGROUND_2H))
    pathlib.Path(out).write_text(json.dumps(
        [[p.completion_text, p.has_errors, p.was_cached, p.cost_usd] for p in preds]))


if __name__ == "__main__":
    main()
