"""Fault injection on the fake server, seen through the real `openai` SDK."""

import concurrent.futures
import threading

import openai
import pytest

from lmwrapper.testing import FakeServer


@pytest.fixture
def client(fake_server):
    return openai.OpenAI(base_url=fake_server.base_url, api_key="sk-test", max_retries=0,
                         timeout=10)


def ask(client, content="hi", **kw):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}], **kw)


def test_next_requests_rate_limited_with_retry_headers(client, fake_server):
    fault = fake_server.rate_limit(times=2, retry_after=0.25)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as e:
            ask(client)
        h = e.value.response.headers
        assert h["retry-after"] == "0.25" and h["retry-after-ms"] == "250"
        assert h["x-ratelimit-remaining-requests"] == "0"
        assert h["x-ratelimit-reset-requests"] == "250ms"
        assert "x-ratelimit-remaining-tokens" in h and "x-ratelimit-reset-tokens" in h
        assert e.value.code == "rate_limit_exceeded"
        assert e.value.body["type"] == "requests"
    assert ask(client).choices
    assert fault.fired == 2
    assert [r.status for r in fake_server.requests] == [429, 429, 200]
    assert [r.fault for r in fake_server.requests] == ["status", "status", None]


def test_sdk_retries_through_a_rate_limit(fake_server):
    fake_server.rate_limit(times=2, retry_after=0.01)
    retrying = openai.OpenAI(base_url=fake_server.base_url, api_key="sk", max_retries=2)
    assert ask(retrying).choices
    assert fake_server.count("chat.completions") == 3


@pytest.mark.parametrize("status,error", [(500, openai.InternalServerError),
                                          (503, openai.InternalServerError)])
def test_server_errors(client, fake_server, status, error):
    fake_server.server_error(status=status)
    with pytest.raises(error) as e:
        ask(client)
    assert e.value.status_code == status
    assert set(e.value.body) == {"message", "type", "param", "code"}
    assert ask(client).choices


def test_dropped_connection(client, fake_server):
    fake_server.drop_connections(times=1)
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    assert ask(client).choices
    assert fake_server.requests[0].status is None and fake_server.requests[0].fault == "drop"


def test_malformed_body(client, fake_server):
    fake_server.malformed_responses(times=1)
    with pytest.raises(Exception) as e:
        ask(client)
    assert not isinstance(e.value, openai.APIStatusError)
    assert ask(client).choices


def test_fault_matching_a_prompt_and_an_endpoint(client, fake_server):
    fake_server.server_error(times=None, match="poison")
    fake_server.rate_limit(times=None, endpoint="completions", retry_after=0.01)
    assert ask(client, "fine").choices
    with pytest.raises(openai.InternalServerError):
        ask(client, "this is poison")
    with pytest.raises(openai.InternalServerError):
        ask(client, "poison again")
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model="davinci-002", prompt="x")
    fake_server.clear_faults()
    assert ask(client, "poison").choices


def test_fraction_of_requests_is_seeded(fake_server):
    def outcomes():
        fake_server.clear_faults()
        fake_server.rate_limit(times=None, fraction=0.3, seed=42, retry_after=0.01)
        c = openai.OpenAI(base_url=fake_server.base_url, api_key="sk", max_retries=0)
        out = []
        for i in range(40):
            try:
                ask(c, f"q{i}")
                out.append(200)
            except openai.RateLimitError:
                out.append(429)
        return out

    first = outcomes()
    assert 4 <= first.count(429) <= 25
    assert outcomes() == first


def test_faults_do_not_hit_non_model_calls_unless_asked(client, fake_server):
    fake_server.server_error(times=1)
    assert list(client.models.list())
    with pytest.raises(openai.InternalServerError):
        ask(client)


def test_slow_responses_and_latency_serve_concurrently():
    # Every answer waits at a 16-party barrier: the first 16 calls complete only if the server
    # is serving all 16 at once (queued behind a lock, the barrier would break after 60 s and
    # the calls would fail). No timing is asserted, so a loaded machine cannot make it flaky.
    barrier = threading.Barrier(16, timeout=60)
    lock = threading.Lock()
    arrived, waited = [], []

    def answer(req):
        with lock:  # exactly the first 16 calls take part
            first = len(arrived) < 16
            arrived.append(req)
        if first:
            waited.append(barrier.wait())
        # then the default answer

    with FakeServer(latency=0.05) as srv:
        srv.set_answer(answer)
        srv.slow_responses(0.05, times=4)
        c = openai.OpenAI(base_url=srv.base_url, api_key="sk", max_retries=0, timeout=120)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: ask(c, f"q{i}"), range(32)))
        assert len(results) == 32 and all(r.choices for r in results)
        assert srv.count("chat.completions") == 32
        assert sorted(waited[:16]) == list(range(16))  # all 16 parties met at the barrier
        assert srv.peak_in_flight >= 16


def test_simulated_rate_window_refuses_past_its_budget():
    with FakeServer(requests_per_minute=2) as srv:
        c = openai.OpenAI(base_url=srv.base_url, api_key="sk", max_retries=0)
        first = c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}])
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        ask(c)
        with pytest.raises(openai.RateLimitError) as e:
            ask(c)
        assert float(e.value.response.headers["retry-after"]) > 0


def test_unknown_fault_kind_lists_the_known_ones(fake_server):
    with pytest.raises(ValueError, match="drop"):
        fake_server.inject("explode")


def test_stop_closes_kept_alive_connections():
    srv = FakeServer().start()
    c = openai.OpenAI(base_url=srv.base_url, api_key="sk", max_retries=0, timeout=5)
    assert ask(c).choices
    srv.stop()
    srv.stop()
    with pytest.raises(openai.APIConnectionError):
        ask(c)


def test_match_sees_prompts_unescaped(client, fake_server):
    fake_server.server_error(times=None, match='say "héllo"')
    with pytest.raises(openai.InternalServerError):
        ask(client, 'Please say "héllo" twice')
    assert ask(client, "say hello").choices


def test_fault_counts_are_exact_under_concurrency(fake_server):
    fault = fake_server.rate_limit(times=5, retry_after=0.01)
    c = openai.OpenAI(base_url=fake_server.base_url, api_key="sk", max_retries=0, timeout=10)

    def one(i):
        try:
            return ask(c, f"q{i}").choices[0].message.content
        except openai.RateLimitError:
            return 429

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(48)))
    assert results.count(429) == 5 and fault.fired == 5
    assert fake_server.count("chat.completions") == 48
