"""The `fake_server` pytest fixture. Use it from a conftest.py:

    from lmwrapper.testing.pytest_plugin import fake_server  # noqa: F401

or load it for a whole run with `pytest -p lmwrapper.testing.pytest_plugin`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lmwrapper.testing.server import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A fresh `FakeServer` on an ephemeral loopback port, stopped after the test."""
    with FakeServer() as srv:
        yield srv
