"""Which failures are cached: only those that belong to the prompt. Over real HTTP."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cache_file import cache_stats

from lmwrapper import RetryPolicy
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt

FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.05)


@pytest.mark.parametrize(("status", "code", "cached"), [
    (400, "content_policy_violation", True),   # a content refusal: the prompt's
    (400, "invalid_prompt", True),
    (400, "invalid_value", False),              # a request we built wrongly
    (400, "unsupported_parameter", False),
    (422, None, False),
], ids=["refusal", "invalid-prompt", "invalid-value", "unsupported-param", "422"])
def test_only_errors_that_belong_to_the_prompt_are_cached(make_lm, srv, status, code, cached):
    srv.inject("status", status=status, code=code, times=1, retry_after=None,
               message="the server says no")
    lm = make_lm(retry=FAST)
    pred = lm.predict("What is 2+2?")
    assert pred.has_errors and pred.error_is_transient is not cached
    assert srv.counts["chat.completions"] == 1  # neither is retried at once
    assert (cache_stats()["rows"] == 1) is cached
    again = lm.predict("What is 2+2?")  # the fault fired once: a resend now succeeds
    assert again.was_cached is cached and again.has_errors is cached
    assert srv.counts["chat.completions"] == (1 if cached else 2)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_key_and_model_errors_stop_the_run_and_cache_nothing(make_lm, srv, status):
    from lmwrapper import ConfigurationError

    srv.inject("status", status=status, times=None, retry_after=None, match="second")
    lm = make_lm(retry=FAST, max_concurrency=1)
    with pytest.raises(ConfigurationError, match="check the API key, the model name"):
        list(lm.predict_many(["first", "second", "third"]))
    rows = cache_stats()["rows"]
    assert rows <= 1 and srv.count("chat.completions") <= 2  # "first" may be answered; no retry


class _Odd:
    """A loopback server answering every POST with `status`/`body`: shapes the fake refuses to
    produce (a proxy's HTML page, a 200 with too few choices)."""

    def __init__(self) -> None:
        self.status, self.body, self.content_type, self.hits = 200, b"{}", "application/json", 0
        odd = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                odd.hits += 1
                self.send_response(odd.status)
                self.send_header("content-type", odd.content_type)
                self.send_header("content-length", str(len(odd.body)))
                self.end_headers()
                self.wfile.write(odd.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def odd():
    server = _Odd()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _lm(odd):
    return get_open_ai_lm("gpt-4o-mini", api_key_secret="sk-odd-0123456789", base_url=odd.base_url,
                          retry=FAST)


def test_an_error_of_unknown_shape_is_not_cached_nor_retried(odd):
    odd.status, odd.content_type = 400, "text/html"
    odd.body = b"<html><body>400 Bad Request: prompt is too long</body></html>"
    pred = _lm(odd).predict("hi")
    assert pred.has_errors and pred.error_is_transient and "cannot read" in pred.error_message
    assert odd.hits == 1 and cache_stats()["rows"] == 0


def test_too_few_choices_is_retried_once_and_not_cached(odd):
    choice = {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
    odd.body = json.dumps({"id": "x", "object": "chat.completion", "model": "gpt-4o-mini",
                           "choices": [choice], "usage": {"prompt_tokens": 3,
                                                          "completion_tokens": 1}}).encode()
    preds = _lm(odd).predict(LmPrompt("hi", num_completions=2, temperature=1.0))
    assert all(p.has_errors and p.error_is_transient for p in preds)
    assert "asked" in preds[0].error_message and "got 1" in preds[0].error_message
    assert odd.hits == 2 and cache_stats()["rows"] == 0
