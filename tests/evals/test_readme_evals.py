"""The examples of docs/scoring.md and docs/structured-answers.md run as written."""

from __future__ import annotations

import pytest
from docs_blocks import python_blocks
from hf_reference import MODELS_DIR

from lmwrapper.testing import FakeServer

LIKELIHOOD = "scoring.md"
STRUCTURED = "structured-answers.md"


def run(code: str, name: str) -> None:
    exec(compile(code, f"docs/{name}", "exec"), {"__name__": "__readme__"})  # noqa: S102


def test_both_pages_have_examples():
    assert "multiple_choice(lm, items)" in "".join(python_blocks(LIKELIHOOD))
    assert "response_format=Capital" in "".join(python_blocks(STRUCTURED))


@pytest.mark.parametrize("index", range(len(python_blocks(STRUCTURED))))
def test_structured_example_runs_against_the_fake(index, monkeypatch, tmp_path):
    with FakeServer() as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test-key")
        monkeypatch.chdir(tmp_path)
        run(python_blocks(STRUCTURED)[index], f"structured {index}")
        assert len(srv.requests) == 1  # the second predict came from the cache


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks(LIKELIHOOD))))
def test_likelihood_example_runs_on_smollm2(index, monkeypatch, tmp_path):
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", MODELS_DIR)  # the suite's, not the repo's
    monkeypatch.chdir(tmp_path)
    run(python_blocks(LIKELIHOOD)[index], f"likelihood {index}")
