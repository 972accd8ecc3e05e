"""A real process running a BATCH_ANY job against the fake, optionally killing itself
(SIGKILL) at one step of the batch engine. Used by the crash and concurrency tests:

    python -m tests.batching.child SERVER_URL POINT N OUT [GO_FILE]

`$LMWRAPPER_TEST_PROVIDER` (default openai) picks the provider from the registry
(`lmwrapper.providers.registry`); its fake (`lmwrapper.testing.providers.<name>`) says which
model it serves for tests, what its SDK's base URL adds to the server's, and how many polls
its batches take. A new batch provider adds nothing here.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import time

from lmwrapper.batch_config import CompletionWindow
from lmwrapper.structs import LmPrompt
from lmwrapper.testing.server import BATCHES
from tests.batching.providers import batch_lm

PROVIDER = os.environ.get("LMWRAPPER_TEST_PROVIDER", "openai")
STEPS = next(s for s in BATCHES if s.provider == PROVIDER)


def make_lm(server_url: str):  # type: ignore[no-untyped-def]
    return batch_lm(server_url, PROVIDER)


ADAPTER = type(make_lm("http://127.0.0.1:9").batch_adapter())


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(cls: type, name: str, *, before: bool = False, nth: int = 1) -> None:
    """Kill the process at the `nth` call of `cls.name`: before it, or right after it returns."""
    orig = getattr(cls, name)
    calls = [0]

    def f(self, *a, **k):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if before and calls[0] >= nth:
            die()
        result = orig(self, *a, **k)
        if not before and calls[0] >= nth:
            die()
        return result

    setattr(cls, name, f)


def die_mid_results() -> None:
    orig = ADAPTER.results

    def results(self, remote, prompts):  # type: ignore[no-untyped-def]
        for i, r in enumerate(orig(self, remote, prompts)):
            if i == 2:
                die()
            yield r

    ADAPTER.results = results  # type: ignore[method-assign]


POINTS = {
    "none": lambda: None,
    "before_upload": lambda: wrap(ADAPTER, "upload", before=True),
    "after_upload": lambda: wrap(ADAPTER, "upload"),
    "after_create": lambda: wrap(ADAPTER, "create"),
    # at the second poll, or the first where a batch ends at its first poll
    "while_polling": lambda: wrap(ADAPTER, "retrieve", before=True,
                                  nth=2 if STEPS.polls_to_end > 1 else 1),
    "while_collecting": die_mid_results,
    "before_deleting_files": lambda: wrap(ADAPTER, "delete_files", before=True),
}


def main() -> None:
    base_url, point, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    POINTS[point]()
    if len(sys.argv) > 5:  # wait for the parent's go (a barrier across processes)
        go = pathlib.Path(sys.argv[5])
        pathlib.Path(out + ".ready").write_text("1")
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    lm = make_lm(base_url)
    prompts = [LmPrompt(f"q{i}", max_tokens=5, temperature=0) for i in range(n)]
    preds = list(lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY))
    pathlib.Path(out).write_text(json.dumps([[p.completion_text, p.has_errors] for p in preds]))


if __name__ == "__main__":
    main()
