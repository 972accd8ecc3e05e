"""The fake's endpoint modules share typed state and do not import the server back."""

import ast
from pathlib import Path

from lmwrapper import testing
from lmwrapper.testing import FakeServer
from lmwrapper.testing.state import FakeState, StoredFile

ENDPOINTS = ["providers/openai", "providers/openai_batches", "providers/anthropic", "jobs", "http",
             "state"]


def imported_modules(name):
    tree = ast.parse((Path(testing.__file__).parent / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_no_endpoint_module_imports_the_server():
    for name in ENDPOINTS:
        assert not any("testing.server" in m for m in imported_modules(name)), name


def test_uploads_land_in_the_typed_state():
    import openai

    with FakeServer() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-x", max_retries=0)
        f = client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
        assert isinstance(srv.state, FakeState)
        assert srv.state.files[f.id] == StoredFile(srv.state.files[f.id].meta, b"{}\n")
