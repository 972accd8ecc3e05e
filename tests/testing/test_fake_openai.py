"""The fake's OpenAI model endpoints, driven through the real `openai` SDK over HTTP."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from lmwrapper.testing import FakeServer


@pytest.fixture
def client(fake_server):
    return openai.OpenAI(base_url=fake_server.base_url, api_key="sk-test", max_retries=0)


def raw_post(url, body, headers=None):
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ask(client, content, **kw):
    kw.setdefault("model", "gpt-4o-mini")
    return client.chat.completions.create(messages=[{"role": "user", "content": content}], **kw)


def test_chat_answers_from_the_fact_table(client):
    r = ask(client, "What is the capital of France? Answer briefly.", temperature=0)
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "Paris"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 1
    assert r.usage.total_tokens == r.usage.prompt_tokens + 1
    assert r.usage.prompt_tokens_details.cached_tokens == 0


def test_chat_default_answer_is_deterministic(client):
    a = ask(client, "Tell me about owls", temperature=0).choices[0].message.content
    b = ask(client, "Tell me about owls", temperature=0).choices[0].message.content
    assert a == b and "owls" in a


def test_registered_answers_and_answer_function(client, fake_server):
    fake_server.add_answer("sky", "Blue.")
    assert ask(client, "What colour is the sky?").choices[0].message.content == "Blue."
    fake_server.set_answer(lambda q: q.prompt.upper())
    assert ask(client, "shout this").choices[0].message.content == "SHOUT THIS"
    assert ask(client, "the sky again").choices[0].message.content == "Blue."


def test_max_tokens_truncates_with_length(client, fake_server):
    fake_server.add_answer("count", "one two three four five")
    r = ask(client, "count", max_tokens=2)
    assert r.choices[0].message.content == "one two"
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 2
    r = ask(client, "count", max_completion_tokens=3)
    assert r.choices[0].message.content == "one two three"


def test_stop_cuts_before_the_stop_string(client, fake_server):
    fake_server.add_answer("count", "one two three four five")
    r = ask(client, "count", stop=[" four", "xyz"])
    assert r.choices[0].message.content == "one two three"
    assert r.choices[0].finish_reason == "stop"


def test_n_samples_differ_when_sampling_and_repeat_with_a_seed(client):
    r = ask(client, "Name a colour", n=3, temperature=1.0, seed=7)
    texts = [c.message.content for c in r.choices]
    assert len(set(texts)) == 3 and [c.index for c in r.choices] == [0, 1, 2]
    again = [c.message.content for c in ask(client, "Name a colour", n=3, seed=7).choices]
    assert again == texts
    other = [c.message.content for c in ask(client, "Name a colour", n=3, seed=8).choices]
    assert other != texts
    greedy = ask(client, "Name a colour", n=2, temperature=0).choices
    assert greedy[0].message.content == greedy[1].message.content


def test_chat_logprobs_and_top_logprobs(client):
    r = ask(client, "What is 2+2?", logprobs=True, top_logprobs=3, temperature=0)
    lp = r.choices[0].logprobs.content
    assert [t.token for t in lp] == ["4"]
    assert len(lp[0].top_logprobs) == 3 and lp[0].top_logprobs[0].token == "4"
    assert lp[0].logprob < 0 and lp[0].bytes == [ord("4")]
    assert sorted((t.logprob for t in lp[0].top_logprobs), reverse=True) == [
        t.logprob for t in lp[0].top_logprobs]
    again = ask(client, "What is 2+2?", logprobs=True, top_logprobs=3, temperature=0)
    assert again.choices[0].logprobs.content[0].logprob == lp[0].logprob
    assert ask(client, "What is 2+2?").choices[0].logprobs is None


def test_top_logprobs_without_logprobs_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "hi", top_logprobs=2)
    assert e.value.body["param"] == "top_logprobs"


def test_response_format_json(client):
    r = ask(client, "What is the capital of Italy?", response_format={"type": "json_object"})
    assert json.loads(r.choices[0].message.content) == {"answer": "Rome"}
    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "population": {"type": "integer"}}}
    r = ask(client, "What is the capital of Italy?", response_format={
        "type": "json_schema", "json_schema": {"name": "c", "schema": schema}})
    assert json.loads(r.choices[0].message.content) == {"city": "Rome", "population": 0}


def test_system_messages_and_content_parts(client, fake_server):
    fake_server.add_answer("pirate", "Arr.")
    r = client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
    ])
    assert r.choices[0].message.content == "Arr."
    assert fake_server.requests[-1].body["messages"][0]["role"] == "system"


def test_context_length_exceeded(client, fake_server):
    fake_server.context_limits["gpt-4o-mini"] = 20
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "word " * 30)
    assert e.value.code == "context_length_exceeded"
    assert "maximum context length is 20 tokens" in e.value.message
    with pytest.raises(openai.BadRequestError):
        ask(client, "short", max_tokens=50)


def test_reasoning_models_refuse_max_tokens(client):
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "hi", model="o3", max_tokens=5)
    assert e.value.param == "max_tokens"
    r = ask(client, "hi there friend", model="o3", max_completion_tokens=1)
    assert r.choices[0].finish_reason == "length"


def test_legacy_completion_with_echo_and_logprobs(client):
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="My name is",
                                  echo=True, logprobs=2, max_tokens=3, temperature=0)
    c = r.choices[0]
    lp = c.logprobs
    assert c.text.startswith("My name is") and c.finish_reason == "length"
    assert lp.tokens[:3] == ["My", " name", " is"] and len(lp.tokens) == 6
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert all(isinstance(x, float) for x in lp.token_logprobs[1:])
    assert all(len(d) == 2 for d in lp.top_logprobs[1:])
    assert lp.text_offset == [0, 2, 7, 10, 10 + len(lp.tokens[3]),
                              10 + len(lp.tokens[3]) + len(lp.tokens[4])]
    assert "".join(lp.tokens) == c.text
    assert r.usage.prompt_tokens == 3 and r.usage.completion_tokens == 3


def test_legacy_completion_offsets_without_echo_start_after_the_prompt(client):
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi",
                                  logprobs=0, max_tokens=2)
    assert r.choices[0].logprobs.text_offset[0] == 2
    assert r.choices[0].text.startswith(" ")


def test_legacy_completion_list_of_prompts_and_n(client):
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["2+2=", "3*3="],
                                  n=2, temperature=0, max_tokens=0, echo=True)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    assert [c.text for c in r.choices] == ["2+2=", "2+2=", "3*3=", "3*3="]
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["2+2=", "3*3="])
    assert [c.text for c in r.choices] == [" 4", " 9"]


def test_legacy_default_max_tokens_is_16(client, fake_server):
    fake_server.add_answer("long", " ".join(["w"] * 40))
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="long")
    assert r.usage.completion_tokens == 16 and r.choices[0].finish_reason == "length"


def test_model_endpoint_mismatch_is_refused(client):
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4o-mini", prompt="hi")
    with pytest.raises(openai.NotFoundError):
        ask(client, "hi", model="gpt-3.5-turbo-instruct")


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert "gpt-4o-mini" in ids
    assert client.models.retrieve("my-finetune").id == "my-finetune"


def test_missing_key_is_a_401_and_keys_are_never_logged(fake_server):
    status, body = raw_post(fake_server.base_url + "/chat/completions", {"model": "m"})
    assert status == 401
    assert set(body["error"]) == {"message", "type", "param", "code"}
    good = openai.OpenAI(base_url=fake_server.base_url, api_key="sk-SECRET-123", max_retries=0)
    ask(good, "hi")
    assert "sk-SECRET-123" not in repr(fake_server.requests)
    assert fake_server.requests[-1].headers["authorization"] == "<redacted>"


def test_a_configured_key_must_match():
    with FakeServer(api_key="sk-right") as srv:
        wrong = openai.OpenAI(base_url=srv.base_url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as e:
            ask(wrong, "hi")
        assert e.value.code == "invalid_api_key" and "sk-wrong" not in str(e.value)
        right = openai.OpenAI(base_url=srv.base_url, api_key="sk-right", max_retries=0)
        assert ask(right, "hi").choices


def test_counts_and_request_log(client, fake_server):
    ask(client, "one")
    ask(client, "two", temperature=0.3)
    client.completions.create(model="davinci-002", prompt="x")
    assert fake_server.counts == {"chat.completions": 2, "completions": 1}
    assert fake_server.count("chat.completions") == 2
    assert fake_server.requests[1].body["temperature"] == 0.3
    assert fake_server.requests[1].status == 200
    fake_server.clear_log()
    assert fake_server.counts == {} and fake_server.requests == []


def test_success_responses_carry_request_id_and_rate_limit_headers(client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    h = raw.headers
    assert h["x-request-id"].startswith("req_")
    for name in ("limit-requests", "remaining-requests", "reset-requests",
                 "limit-tokens", "remaining-tokens", "reset-tokens"):
        assert f"x-ratelimit-{name}" in h
    assert raw.parse().choices[0].message.content


def test_exact_answers_and_errors_raised_by_the_answer_function(client, fake_server):
    from lmwrapper.testing import FakeApiError

    fake_server.add_answer("hi", "exactly hi", exact=True)
    assert ask(client, "hi").choices[0].message.content == "exactly hi"
    assert ask(client, "hi there").choices[0].message.content != "exactly hi"

    def answer(q):
        if "forbidden" in q.prompt:
            raise FakeApiError(400, "Invalid prompt: flagged.", code="invalid_prompt")
        # the default answer

    fake_server.set_answer(answer)
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "a forbidden question")
    assert e.value.code == "invalid_prompt"
    assert ask(client, "What is 1+1?").choices[0].message.content == "2"


def test_chunked_request_bodies_are_read(fake_server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", fake_server.port, timeout=10)
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": "What is 5+5?"}]}).encode()
    conn.request("POST", "/v1/chat/completions", body=iter([body[:10], body[10:]]),
                 headers={"authorization": "Bearer sk", "content-type": "application/json",
                          "transfer-encoding": "chunked"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["choices"][0]["message"]["content"] == "10"
    conn.close()
