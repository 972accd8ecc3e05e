"""A script written for lmwrapper 0.18 (script_018.py) runs unchanged, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("script_018.py")
ROOT = SCRIPT.parents[2]


def test_018_script_runs_unchanged(openai_env, tiny_dir, tmp_path):
    env = dict(os.environ)  # $OPENAI_API_KEY and $OPENAI_BASE_URL point at the fake server
    # this checkout's lmwrapper, in the script's process and its worker processes
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "cache"), str(tiny_dir)],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("0.18 script: OK")
    assert openai_env.count("chat.completions") >= 9
