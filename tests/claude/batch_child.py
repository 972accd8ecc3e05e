"""A real process running a Claude BATCH_ANY job against the fake that kills itself
(SIGKILL) right after the batch was created at Anthropic, before its id is recorded:

    python -m tests.claude.batch_child BASE_URL N OUT
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.claude_wrapper import get_claude_lm
from lmwrapper.providers.anthropic.batch import ClaudeBatchAdapter
from lmwrapper.structs import LmPrompt


def die_after_create() -> None:
    create = ClaudeBatchAdapter.create

    def wrapped(self, *a, **k):  # type: ignore[no-untyped-def]
        create(self, *a, **k)
        os.kill(os.getpid(), signal.SIGKILL)

    ClaudeBatchAdapter.create = wrapped  # type: ignore[method-assign]


def prompts(n: int) -> list[LmPrompt]:
    return [LmPrompt(f"What is {i}+1?", max_tokens=10, temperature=0) for i in range(n)]


def main() -> None:
    base_url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    die_after_create()
    lm = get_claude_lm("claude-haiku-4-5", api_key_secret="sk-ant-child-key", base_url=base_url)
    preds = list(lm.predict_many(prompts(n), completion_window=CompletionWindow.BATCH_ANY))
    pathlib.Path(out).write_text(json.dumps([p.completion_text for p in preds]))


if __name__ == "__main__":
    main()
