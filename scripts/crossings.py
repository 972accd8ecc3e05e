"""Count how often one live request crosses between shared code and a provider's code.

    python scripts/crossings.py            # OpenAI and Anthropic, one `predict` each
    python scripts/crossings.py --pairs    # and which functions call across

One uncached `lm.predict(prompt)` (after a first one, so lazy imports, the client and the
key are set up) against the loopback fake, over the SDK path (`LMWRAPPER_LIVE_HTTP=sdk`:
a single prompt goes through `send_once`). Every call into a function of `lmwrapper` is
traced (all threads, `sys.setprofile`); it is a crossing when the nearest `lmwrapper` frame
that called it is on the other side: `lmwrapper/providers/` on one side, the rest of the
package (engine, runners, store, core) on the other. Calls within the SDK, the standard
library or a side are not counted (a return is not a crossing). Also printed: how many
are with the machinery (engine, runners, store) rather than with `core`'s values (a
provider building an `LmPrediction` crosses into core/prompt.py).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PKG = str(ROOT / "lmwrapper") + os.sep
PROVIDERS = str(ROOT / "lmwrapper" / "providers") + os.sep
KEY = "sk-test-crossings-0123456789"


def _side(frame: FrameType) -> str | None:
    path = frame.f_code.co_filename
    if not path.startswith(PKG):
        return None
    return "provider" if path.startswith(PROVIDERS) else "shared"


def _name(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename[len(PKG):]}:{frame.f_code.co_name}"


class Tracer:
    def __init__(self) -> None:
        self.pairs: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = _side(frame)
        if callee is None:
            return
        caller = frame.f_back
        while caller is not None and _side(caller) is None:
            caller = caller.f_back
        if caller is None or _side(caller) == callee:
            return
        direction = "shared → provider" if callee == "provider" else "provider → shared"
        with self._lock:
            self.pairs[(direction, _name(caller), _name(frame))] += 1


def measure(make: Any, prompt_text: str) -> Tracer:
    from lmwrapper.core.prompt import LmPrompt

    lm = make()
    # GPT-5.4 takes temperature only without reasoning; Claude has no effort "none"
    fields = {"reasoning_effort": "none"} if lm.model_name().startswith("gpt-") else {}
    lm.predict(LmPrompt("warm up", max_tokens=3, temperature=0, **fields))
    tracer = Tracer()
    threading.setprofile(tracer)
    sys.setprofile(tracer)
    try:
        lm.predict(LmPrompt(prompt_text, max_tokens=3, temperature=0, **fields))
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return tracer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", action="store_true", help="list the calls that cross")
    args = parser.parse_args()
    os.environ["LMWRAPPER_LIVE_HTTP"] = "sdk"
    os.environ["LMWRAPPER_PROGRESS"] = "0"
    from lmwrapper.claude_wrapper import get_claude_lm
    from lmwrapper.openai_wrapper import get_open_ai_lm
    from lmwrapper.testing import FakeServer

    with FakeServer() as srv, tempfile.TemporaryDirectory() as cache_dir:
        makers = {
            "openai gpt-5.4-mini": lambda: get_open_ai_lm(
                "gpt-5.4-mini", api_key_secret=KEY, base_url=srv.base_url, cache_dir=cache_dir),
            "anthropic claude-sonnet-4-6": lambda: get_claude_lm(
                "claude-sonnet-4-6", api_key_secret=KEY, base_url=srv.anthropic_base_url,
                cache_dir=cache_dir),
        }
        for label, make in makers.items():
            tracer = measure(make, f"What is 2+6? ({label})")
            by_dir: collections.Counter[str] = collections.Counter()
            machinery = 0  # crossings with the engine, runners or store (not core's values)
            for (direction, caller, callee), n in tracer.pairs.items():
                by_dir[direction] += n
                shared = caller if direction == "shared → provider" else callee
                machinery += n * (not shared.startswith("core" + os.sep))
            print(f"{label}: {sum(by_dir.values())} crossings in one live request "
                  f"({by_dir['shared → provider']} shared → provider, "
                  f"{by_dir['provider → shared']} provider → shared; "
                  f"{machinery} with the engine, runners or store rather than core's values; "
                  f"{len(tracer.pairs)} distinct caller → callee pairs)")
            if args.pairs:
                for (direction, caller, callee), n in sorted(tracer.pairs.items()):
                    print(f"    {n:3d}  {direction}: {caller} → {callee}")


if __name__ == "__main__":
    main()
