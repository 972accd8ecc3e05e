"""Batch settings: argument, then LMWRAPPER_BATCH_*, then default; bad values say which."""

import pytest

from lmwrapper.batching.settings import BatchSettings


def test_argument_then_environment_then_default(monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_MAX_REQUESTS", "1_000")
    monkeypatch.setenv("LMWRAPPER_BATCH_KEEP_FILES", "1")
    monkeypatch.setenv("LMWRAPPER_BATCH_POLL_S", "0.5")
    s = BatchSettings.resolve(max_requests=7)
    assert (s.max_requests, s.keep_files, s.poll_s, s.max_attempts) == (7, True, 0.5, 3)
    assert BatchSettings.resolve().max_requests == 1000


def test_a_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("LMWRAPPER_BATCH_TOKEN_LIMIT", "lots")
    with pytest.raises(ValueError, match="LMWRAPPER_BATCH_TOKEN_LIMIT='lots'"):
        BatchSettings.resolve()
