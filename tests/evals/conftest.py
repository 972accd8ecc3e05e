"""The Hugging Face test models (tiny GPT-2, SmolLM2), shared with tests/huggingface.

The fixtures are defined once, in tests/huggingface/conftest.py; this file loads that
module under its own name and re-exports them, so both folders build the same models.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_HF_TESTS = Path(__file__).resolve().parents[1] / "huggingface"
if str(_HF_TESTS) not in sys.path:
    sys.path.insert(0, str(_HF_TESTS))  # hf_reference, as tests/huggingface imports it


def _load_hf_conftest():
    spec = importlib.util.spec_from_file_location("_hf_conftest", _HF_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hf = _load_hf_conftest()
_torch_threads = _hf._torch_threads
tiny_dir = _hf.tiny_dir
tiny_lm = _hf.tiny_lm
smol_lm = _hf.smol_lm
cached_tiny = _hf.cached_tiny
