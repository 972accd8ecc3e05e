"""The README's Hugging Face examples run as written (offline, on the embedded SmolLM2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hf_reference import MODELS_CACHE
from readme_blocks import python_blocks

HEADING = "Local Hugging Face models"


def test_the_section_has_the_seed_example():
    blocks = python_blocks(HEADING)
    assert len(blocks) >= 2
    assert 'assert prediction.completion_text == " Paris"' in blocks[0]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks(HEADING))))
def test_readme_hf_example_runs_as_written(index, monkeypatch, tmp_path):
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(Path(MODELS_CACHE) / "models"))
    monkeypatch.chdir(tmp_path)
    code = python_blocks(HEADING)[index]
    exec(compile(code, f"README.md[huggingface block {index}]", "exec"),  # noqa: S102
         {"__name__": "__readme__"})
