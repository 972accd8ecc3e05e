"""The core examples of docs/getting-started.md run as written (prompts, predict_many)."""

import pytest
from docs_blocks import python_blocks

PAGE, CORE = "getting-started.md", "Prompts, predictions and `predict_many`"


def core_blocks():
    return python_blocks(PAGE, CORE)


def test_the_core_section_has_examples():
    assert core_blocks()


@pytest.mark.parametrize("index", range(len(core_blocks())))
def test_core_example_runs_as_written(index, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(core_blocks()[index], f"docs/{PAGE}[core block {index}]", "exec"),  # noqa: S102
         {"__name__": "__docs__"})
    out = capsys.readouterr().out
    assert "100 prompts: 0 cached, 100 new, 0 failed" in out
