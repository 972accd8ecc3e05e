"""The README's core examples run as written (prompts, predict_many, samples)."""

import pytest
from readme_blocks import python_blocks


def core_blocks():
    return python_blocks("Prompts, predictions and `predict_many`")


def test_the_core_section_has_examples():
    assert core_blocks()


@pytest.mark.parametrize("index", range(len(core_blocks())))
def test_core_example_runs_as_written(index, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(core_blocks()[index], f"README.md[core block {index}]", "exec"),  # noqa: S102
         {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "100 prompts: 0 cached, 100 new, 0 failed" in out
