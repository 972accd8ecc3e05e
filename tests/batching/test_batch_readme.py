"""The example of docs/batch-and-resume.md (the OpenAI Batch API) runs as written against the fake."""

from __future__ import annotations

import contextlib
import io

from docs_blocks import python_blocks

from tests.batching.conftest import sent_texts


def test_docs_batch_example_runs_as_written(srv, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-example")
    srv.add_answer("capital of France", "Paris")
    [block] = python_blocks("batch-and-resume.md")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "docs/batch-and-resume.md", "exec"), {})  # noqa: S102
    assert "France -> Paris batch_" in out.getvalue()
    assert srv.count("batches.create") == 1 and len(sent_texts(srv)) == 3
