"""The progress bar: every frame's counters agree with its position (none one step behind)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from lmwrapper import PermanentProviderError
from lmwrapper.testing import ScriptedLm
lm = ScriptedLm(delay=0.005, cost_per_call=0.001, cache_default=True)
list(lm.predict_many(["c0", "c1"]))
lm.enqueue(*["ok"] * 5, PermanentProviderError("nope"), *["ok"] * 6)
list(lm.predict_many(["c0", "c1", *[f"q{i}" for i in range(12)]], progress=True))
"""
ROOT = str(Path(__file__).resolve().parents[1])  # this checkout's lmwrapper, not an installed one
FRAME = re.compile(r"(\d+)/14 [^\r\n]*cached=(\d+), failed=(\d+), new=(\d+), spent=\$([\d.]+)")


def test_each_frame_shows_the_counters_of_its_own_step(tmp_path):
    # Print every update (tqdm reads TQDM_* settings from the environment), so a frame drawn
    # before its counters were set would show.
    env = {**os.environ, "LMWRAPPER_CACHE_DIR": str(tmp_path), "TQDM_MININTERVAL": "0",
           "TQDM_MINITERS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=120, env=env, cwd=tmp_path, check=True)
    frames = [m.groups() for m in FRAME.finditer(r.stderr)]
    assert len(frames) >= 3, r.stderr
    for done, cached, failed, new, spent in frames:
        assert int(done) == int(cached) + int(new) + int(failed), (done, r.stderr)
        assert float(spent) > 0 or int(new) + int(failed) == 0, r.stderr
    assert frames[-1][:4] == ("14", "2", "1", "11")
