"""The README's Hugging Face examples run as written (offline, on the embedded SmolLM2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hf_reference import MODELS_CACHE

README = Path(__file__).resolve().parents[2] / "README.md"


def hf_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("## Local Hugging Face models")
    end = text.index("\n## ", start + 1)
    found = re.findall(r"(<!-- skip test[^>]*-->\n)?```python\n(.*?)```", text[start:end], re.DOTALL)
    return [code for skip, code in found if not skip]


def test_the_section_has_the_seed_example():
    blocks = hf_blocks()
    assert len(blocks) >= 2
    assert 'assert prediction.completion_text == " Paris"' in blocks[0]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(hf_blocks())))
def test_readme_hf_example_runs_as_written(index, monkeypatch, tmp_path):
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(Path(MODELS_CACHE) / "models"))
    monkeypatch.chdir(tmp_path)
    code = hf_blocks()[index]
    exec(compile(code, f"README.md[huggingface block {index}]", "exec"),  # noqa: S102
         {"__name__": "__readme__"})
