"""The shared API-backend base: error classification as data, secrets, the live runner seam."""

import pickle
import threading

import pytest

from lmwrapper import (
    ConfigurationError,
    MissingApiKeyError,
    PermanentProviderError,
    RateLimitError,
    RejectedRequestError,
    RetryPolicy,
    TransientProviderError,
)
from lmwrapper.core.contract import Job
from lmwrapper.providers.anthropic import errors as anthropic_errors
from lmwrapper.providers.base import HttpApiBackend, classify_error, error_fields
from lmwrapper.providers.openai import errors as openai_errors
from lmwrapper.providers.predictor import ApiPredictor
from lmwrapper.runners.live import LiveRunner
from lmwrapper.structs import LmPrediction, LmPrompt

KEY = "sk-base-SECRET0123456789"


def oai(code, message="m", type_="invalid_request_error"):
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def ant(type_, message="m"):
    return {"type": "error", "error": {"type": type_, "message": message}}


def classify(status, body, headers=None, **kw):
    """`classify_error` as each provider calls it: with its own codes and reader (an
    Anthropic-shaped body gets Anthropic's; anything else OpenAI's)."""
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and (body.get("type") == "error" or
                                   isinstance(inner, dict) and inner.get("type") == "error"):
        kw.setdefault("codes", anthropic_errors.CODES)
        kw.setdefault("fields", anthropic_errors.error_fields)
    else:
        kw.setdefault("codes", openai_errors.CODES)
    return classify_error(status, body, headers, **kw)


CASES = [
    # (status, body, expected class, transient i.e. not cached)
    (429, oai("rate_limit_exceeded"), RateLimitError, True),
    (429, ant("rate_limit_error"), RateLimitError, True),
    (500, oai(None, type_="server_error"), TransientProviderError, True),
    (503, "<html>bad gateway</html>", TransientProviderError, True),
    (529, ant("overloaded_error"), TransientProviderError, True),
    (408, None, TransientProviderError, True),
    (409, oai(None), TransientProviderError, True),
    (400, oai("context_length_exceeded"), PermanentProviderError, False),
    (400, ant("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
     PermanentProviderError, False),
    (400, oai("content_policy_violation"), PermanentProviderError, False),
    (413, ant("request_too_large"), PermanentProviderError, False),
    (400, oai("invalid_value", "Invalid value for 'temperature'"), RejectedRequestError, True),
    (400, ant("invalid_request_error", "max_tokens: Field required"), RejectedRequestError, True),
    (422, {"detail": [{"loc": ["body"], "msg": "field required"}]}, RejectedRequestError, True),
    (400, "not json at all: prompt is too long", RejectedRequestError, True),  # unknown shape
    (418, None, RejectedRequestError, True),
    # batch lines: no HTTP status, only a code
    (None, {"error": {"code": "batch_expired", "message": "expired"}}, TransientProviderError, True),
    (None, {"error": {"code": "context_length_exceeded", "message": "x"}},
     PermanentProviderError, False),
    (None, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}},
     TransientProviderError, True),
    (None, {"error": {"code": "something_new", "message": "x"}}, RejectedRequestError, True),
]


@pytest.mark.parametrize(("status", "body", "cls", "transient"), CASES)
def test_classification_is_a_function_of_status_and_body(status, body, cls, transient):
    err = classify(status, body, {}, label="P")
    assert type(err) is cls and err.transient is transient
    assert err.status_code == status
    assert err.retryable is issubclass(cls, TransientProviderError)


@pytest.mark.parametrize(("status", "body", "says"), [
    (401, oai("invalid_api_key"), "check the API key"),
    (403, ant("permission_error"), "check the API key"),
    (404, oai("model_not_found"), "check the API key"),
    (404, "<html>404</html>", "check the API key"),
    (429, oai("insufficient_quota", type_="insufficient_quota"), "no credit left"),
    (400, ant("billing_error", "Your credit balance is too low"), "no credit left"),
])
def test_key_model_url_and_quota_errors_stop_the_run(status, body, says):
    err = classify(status, body, None, label="P")
    assert isinstance(err, ConfigurationError) and says in str(err)


def test_retry_after_comes_from_the_headers_and_messages_are_scrubbed():
    err = classify(429, oai("rate_limit_exceeded", f"slow down {KEY}"),
                         {"Retry-After": "7"}, label="OpenAI", scrub=lambda t: t.replace(KEY, "*"))
    assert isinstance(err, RateLimitError) and err.retry_after == 7.0
    assert str(err) == "OpenAI 429 rate_limit_exceeded: slow down *" and err.code == "rate_limit_exceeded"


def test_each_provider_declares_what_its_codes_mean():
    body = oai("org_frozen")
    assert isinstance(classify_error(400, body, None, label="P"), RejectedRequestError)
    assert isinstance(classify_error(400, body, None, label="P", codes={"org_frozen": "config"}),
                      ConfigurationError)
    # without its provider's codes, a code is read by its status alone
    assert isinstance(classify_error(429, oai("insufficient_quota"), None, label="P"),
                      RateLimitError)
    assert isinstance(classify_error(429, oai("insufficient_quota"), None, label="P",
                                     codes=openai_errors.CODES), ConfigurationError)


def test_an_anthropic_batch_line_error_nested_one_level_deeper_is_read():
    line = {"type": "errored", "error": {"type": "error", "error": {
        "type": "overloaded_error", "message": "x"}}}
    err = classify(None, line, label="Anthropic", fields=anthropic_errors.error_fields,
                   codes=anthropic_errors.CODES)
    assert isinstance(err, TransientProviderError) and err.code == "overloaded_error"


@pytest.mark.parametrize(("errors", "body", "missing"), [
    (openai_errors, oai("model_not_found", "The model `gpt-9` does not exist"), True),
    (anthropic_errors, ant("not_found_error", "model: claude-sonet-5-5"), True),
    (anthropic_errors, ant("not_found_error", "batch msgbatch_1 not found"), False),
    (openai_errors, ant("not_found_error", "model: claude-sonet-5-5"), False),
])
def test_each_provider_says_which_errors_are_a_missing_model(errors, body, missing):
    fields = getattr(errors, "error_fields", error_fields)  # OpenAI reads the shared shape
    assert (errors.missing_model_message(fields(body)) is not None) is missing


class Echo(HttpApiBackend):
    """The smallest provider: answers with the prompt's text, no network."""

    provider, display_name, key_env_var = "echo", "Echo", "ECHO_TEST_KEY"
    key_file = "~/echo_key.txt"

    def model_identity(self):
        return {"provider": "echo", "model": "echo-1"}

    def _make_client(self, key):
        return object()

    def send_once(self, job):
        return [LmPrediction(completion_text=job.prompt.text, prompt=job.prompt)] * len(
            job.sample_indices)


def test_the_key_never_shows_in_repr_vars_pickle_or_errors():
    lm = Echo(base_url="http://x", api_key_secret=KEY)
    lm.client()
    for text in (repr(lm), repr(vars(lm)), str(pickle.dumps(lm))):
        assert KEY not in text
    assert lm.scrub(f"server said {KEY} and sk-other-abcdefgh") == \
        "server said [api key] and sk-[redacted]"
    pred = lm.error_prediction(LmPrompt("x"), RejectedRequestError(f"bad {KEY}"))
    assert KEY not in pred.error_message and pred.error_is_transient


def test_an_unpickled_copy_looks_the_key_up_again(tmp_path, monkeypatch):
    monkeypatch.delenv("ECHO_TEST_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    copy = pickle.loads(pickle.dumps(Echo(base_url="http://x", api_key_secret=KEY)))
    with pytest.raises(MissingApiKeyError,
                       match=r"set \$ECHO_TEST_KEY, put the key in .*echo_key.txt or in Python pass api_key_secret="):
        copy.live_runner()
    (tmp_path / "echo_key.txt").write_text("sk-from-file-123456\n")
    assert copy.api_key() == "sk-from-file-123456"


class EchoPredictor(ApiPredictor):
    """Its front door: the backend built from the same arguments, and held."""

    backend_class = Echo


def test_the_front_door_holds_its_backend_and_passes_settings_to_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_TEST_KEY", KEY)
    lm = EchoPredictor(base_url="http://x", max_concurrency=3, cache_dir=str(tmp_path))
    assert type(lm.backend) is Echo and not isinstance(lm, HttpApiBackend)
    assert lm.max_concurrency == 3 and lm.model_name() == "echo-1"  # read from the backend
    lm.max_concurrency = 5  # a setting written to the front door is the backend's
    assert lm.backend.max_concurrency == 5 and "max_concurrency" not in vars(lm)
    lm.cache_default = False  # the front door's, and the backend's cost estimate's
    assert lm.backend.cache_default is False
    assert repr(lm) == "EchoPredictor(model='echo-1', base_url='http://x')"
    assert lm.predict("hi").completion_text == "hi"
    copy = pickle.loads(pickle.dumps(lm))
    assert KEY not in str(pickle.dumps(lm)) and copy.backend.max_concurrency == 5


def test_a_front_door_subclass_overriding_its_backend_says_how_to():
    with pytest.raises(TypeError, match="define them on a subclass of Echo and name it on "
                                        "Wrong as backend_class"):
        class Wrong(EchoPredictor):
            def send_once(self, job):
                return []


def test_live_runner_is_a_runner_composed_from_the_settings(monkeypatch):
    monkeypatch.setenv("ECHO_TEST_KEY", KEY)
    policy = RetryPolicy(max_retries=2)
    lm = Echo(base_url="http://x", max_concurrency=3, retry=policy)
    runner = lm.live_runner()
    assert isinstance(runner, LiveRunner)  # a backend.Runner: mypy checks live_runner.py
    assert runner.max_concurrency == 3 and runner.retry is policy and runner.limiter is lm.limiter
    got = {}
    runner.run([Job("k", LmPrompt("hi"), [0, 1])], lambda j, ps: got.update({j.key: ps}),
               lambda: False)
    assert [p.completion_text for p in got["k"]] == ["hi", "hi"]
    assert lm.last_runner_stats is runner.stats and runner.stats.requests == 1


def test_in_flight_counts_requests_sent_and_not_answered():
    sent, release = threading.Event(), threading.Event()

    def send(job):
        sent.set()
        assert release.wait(30)
        return [LmPrediction(completion_text="a", prompt=job.prompt)]

    runner = LiveRunner(send, error_prediction=lambda p, e: None, max_concurrency=2)
    t = threading.Thread(target=runner.run, args=([Job("k", LmPrompt("x"), [0])],
                                                  lambda j, ps: None, lambda: False))
    assert runner.in_flight() == 0
    t.start()
    assert sent.wait(30)
    assert runner.in_flight() == 1
    release.set()
    t.join(30)
    assert runner.in_flight() == 0
