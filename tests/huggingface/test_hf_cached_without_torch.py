"""A fully cached rerun of a local model needs neither torch nor the tokenizer (issue 11):
identity and keys come from the folder's files and the prompts' canonical form."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lmwrapper.structs import LmPrompt

ROOT = str(Path(__file__).resolve().parents[2])  # this checkout's lmwrapper
PROMPTS = ("[LmPrompt('hello', max_tokens=2, temperature=0),"
           " LmPrompt(['hi'], max_tokens=2, temperature=0, echo=True)]")
RERUN = f"""
import sys
from lmwrapper.huggingface_wrapper import get_huggingface_lm
from lmwrapper.structs import LmPrompt
lm = get_huggingface_lm(sys.argv[1], device="cpu", cache_dir=sys.argv[2])
preds = list(lm.predict_many({PROMPTS}))
assert all(p.was_cached for p in preds), preds
print([p.completion_text for p in preds])
print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
"""


def test_a_fully_cached_rerun_imports_no_torch(tiny_dir, tmp_path):
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    lm = get_huggingface_lm(str(tiny_dir), device="cpu", cache_dir=str(tmp_path))
    prompts = [LmPrompt("hello", max_tokens=2, temperature=0),  # the same as PROMPTS
               LmPrompt(["hi"], max_tokens=2, temperature=0, echo=True)]
    first = [p.completion_text for p in lm.predict_many(prompts)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get(
        "PYTHONPATH")])), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", RERUN, str(tiny_dir), str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    texts, modules = r.stdout.strip().splitlines()[-2:]
    assert texts == repr(first)
    assert modules == "[]", "a cached rerun imported " + modules


def test_the_lazy_tokenizer_keys_and_refuses_as_before(tiny_dir, tmp_path):
    """Built lazily, the predictor keys like one whose tokenizer is loaded; a bad prompt is
    still refused before anything runs, and use_chat_mode=True without a template at once."""
    import shutil

    import pytest

    from lmwrapper.huggingface_wrapper import get_huggingface_lm
    from lmwrapper.structs import LmChatTurn

    lazy = get_huggingface_lm(str(tiny_dir), device="cpu", cache_dir=str(tmp_path))
    loaded = get_huggingface_lm(str(tiny_dir), device="cpu", cache_dir=str(tmp_path))
    _ = loaded.tokenizer
    assert lazy.identity_json() == loaded.identity_json()
    assert lazy.is_chat_model and lazy.model_identity()["chat_mode"] is True
    named = LmPrompt([LmChatTurn("user", "hi", name="ann")], max_tokens=1)
    with pytest.raises(ValueError, match="name"):
        lazy.predict(named)
    plain = tmp_path / "plain"
    shutil.copytree(tiny_dir, plain)
    (plain / "chat_template.jinja").unlink()
    assert not get_huggingface_lm(str(plain), device="cpu").is_chat_model
    with pytest.raises(ValueError, match="use_chat_mode=True"):
        get_huggingface_lm(str(plain), device="cpu", use_chat_mode=True)
