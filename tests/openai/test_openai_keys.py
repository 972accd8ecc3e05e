"""The API key: where it is looked up, when it is needed, and that it never leaks."""

import logging

import pytest

from lmwrapper import ConfigurationError, MissingApiKeyError, RetryPolicy
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer

API_KEY = "sk-test-SECRET0123456789abcdef"  # the one conftest.make_lm uses


@pytest.fixture
def keyed():
    with FakeServer(api_key=API_KEY) as s:
        yield s


def test_key_order_argument_then_env_then_file(keyed, no_key_anywhere, tmp_path, monkeypatch):
    def ok(**kw):
        lm = get_open_ai_lm("gpt-5.4-mini", base_url=keyed.base_url, cache_default=False, **kw)
        try:
            return not lm.predict("hi").has_errors
        except ConfigurationError:  # 401: wrong key
            return False

    (tmp_path / "home" / "oai_key.txt").write_text(API_KEY + "\n")
    assert ok()  # the file
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-env-key")
    assert not ok()  # env before file
    assert ok(api_key_secret=API_KEY)  # argument before env
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    assert not ok(api_key_secret="sk-wrong-arg-key")


def test_missing_key_only_when_something_must_be_sent(keyed, no_key_anywhere):
    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret=API_KEY, base_url=keyed.base_url)
    first = [p.completion_text for p in lm.predict_many(["a?", "b?"])]
    url = keyed.base_url
    keyed.stop()  # no network either
    offline = get_open_ai_lm("gpt-5.4-mini", base_url=url)
    again = list(offline.predict_many(["a?", "b?"]))
    assert [p.completion_text for p in again] == first and all(p.was_cached for p in again)
    with pytest.raises(MissingApiKeyError, match="OPENAI_API_KEY.*oai_key.txt"):
        list(offline.predict_many(["a?", "a new prompt"]))


def test_key_never_in_cache_logs_or_errors(keyed, caplog, tmp_path, cache_dir):
    caplog.set_level(logging.DEBUG)
    keyed.inject("status", status=400, match="bad prompt", times=None,
                 message=f"echoing the key {API_KEY} back", code="content_policy_violation")
    keyed.server_error(times=None, match="flaky", status=500, message=f"oops {API_KEY}")
    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret=API_KEY, base_url=keyed.base_url,
                        retry=RetryPolicy(max_retries=1, initial_backoff_s=0.01))
    preds = list(lm.predict_many(["good prompt", "bad prompt", "flaky prompt"]))
    assert [p.has_errors for p in preds] == [False, True, True]
    wrong = get_open_ai_lm("gpt-5.4-mini", api_key_secret=API_KEY[::-1], base_url=keyed.base_url)
    with pytest.raises(ConfigurationError) as err:
        wrong.predict("good prompt?")
    texts = [p.error_message for p in preds[1:]] + [str(err.value), repr(lm), repr(vars(lm)),
                                                   caplog.text]
    for text in texts:
        assert API_KEY not in text and API_KEY[::-1] not in text
    stored = b"".join(p.read_bytes() for p in cache_dir.rglob("*") if p.is_file())
    assert b"echoing the key" in stored  # the permanent error was cached...
    assert API_KEY.encode() not in stored  # ...without the key


def test_prompts_are_validated_before_the_key_is_needed(no_key_anywhere):
    lm = get_open_ai_lm("gpt-5.4-mini")
    with pytest.raises(ValueError, match="echo"):
        list(lm.predict_many([LmPrompt("x", echo=True)]))


def test_a_pickled_model_carries_no_key_and_still_works(keyed, no_key_anywhere, monkeypatch):
    import pickle

    lm = get_open_ai_lm("gpt-5.4-mini", api_key_secret=API_KEY, base_url=keyed.base_url)
    assert not lm.predict("warm up the client").has_errors
    blob = pickle.dumps(lm)  # e.g. handed to a multiprocessing worker
    assert API_KEY.encode() not in blob
    copy = pickle.loads(blob)
    with pytest.raises(MissingApiKeyError):
        copy.predict("a new prompt?")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    assert copy.predict("a new prompt?").completion_text
