"""The examples of docs/local-models.md and the first run of docs/getting-started.md run as
written (offline, on the embedded SmolLM2)."""

from __future__ import annotations

import pytest
from docs_blocks import python_blocks
from hf_reference import MODELS_DIR

PAGE = "local-models.md"
START, FIRST_RUN = "getting-started.md", "A first run"


def test_the_page_has_the_seed_example():
    blocks = python_blocks(PAGE)
    assert len(blocks) >= 2
    assert 'assert prediction.completion_text == " Paris"' in blocks[0]


@pytest.fixture
def smollm2_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", MODELS_DIR)  # the suite's, not the repo's
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks(PAGE))))
def test_docs_hf_example_runs_as_written(index, smollm2_dir):
    code = python_blocks(PAGE)[index]
    exec(compile(code, f"docs/{PAGE}[block {index}]", "exec"),  # noqa: S102
         {"__name__": "__docs__"})


@pytest.mark.slow
def test_getting_started_first_run_runs_twice_and_the_second_is_cached(smollm2_dir, capsys):
    (code,) = python_blocks(START, FIRST_RUN)
    for _ in range(2):
        exec(compile(code, f"docs/{START}[{FIRST_RUN}]", "exec"), {"__name__": "__docs__"})  # noqa: S102
    out = capsys.readouterr().out
    assert "2 prompts: 0 cached, 2 new, 0 failed" in out
    assert "2 prompts: 2 cached, 0 new, 0 failed" in out
    assert "' Paris' False" in out and "' Paris' True" in out
