"""Batch settings: argument, then LMWRAPPER_BATCH_*, then default; bad values say which."""

import pytest

from lmwrapper.runners.batch.settings import BatchSettings


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


def test_limits_are_the_tighter_of_the_providers_and_the_settings(provider_lm):
    from lmwrapper.runners.batch import batch_runner

    lm = provider_lm()
    own = lm.batch_adapter().limits
    # Anthropic's 256 MB is the create body's; the lines get 1 KB less for its envelope.
    expected = {"openai": (50_000, 200_000_000), "anthropic": (100_000, 256_000_000 - 1_024)}
    assert (own.max_requests, own.max_bytes) == expected[provider_lm.provider]
    default = batch_runner(lm, lm.cache).limits
    assert (default.max_requests, default.max_bytes) == (own.max_requests, own.max_bytes)
    above = batch_runner(lm, lm.cache, max_requests=10**9, max_bytes=10**12).limits
    assert (above.max_requests, above.max_bytes) == (own.max_requests, own.max_bytes)
    below = batch_runner(lm, lm.cache, max_requests=7, max_bytes=5_000).limits
    assert (below.max_requests, below.max_bytes) == (7, 5_000)
