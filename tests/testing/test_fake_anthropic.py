"""The fake's Anthropic endpoints, driven through the real `anthropic` SDK."""

import anthropic
import pytest


@pytest.fixture
def client(fake_server):
    return anthropic.Anthropic(base_url=fake_server.anthropic_base_url, api_key="test",
                               max_retries=0)


def ask(client, content, **kw):
    kw.setdefault("model", "claude-haiku-4-5")
    kw.setdefault("max_tokens", 50)
    return client.messages.create(messages=[{"role": "user", "content": content}], **kw)


OLD = {"anthropic-version": "2023-06-01"}  # the API version that still has sampling fields


def test_message_with_system_and_sampling_in_extra_body(client, fake_server):
    m = ask(client, "What is the capital of Japan?", system="Be brief.",
            model="claude-3-5-haiku-latest",  # the 4.5 models refuse both knobs at once
            extra_body={"temperature": 0.0, "top_p": 0.9}, extra_headers=OLD)
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text" and m.content[0].text == "Tokyo"
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert m.usage.output_tokens == 1 and m.usage.input_tokens > 0
    sent = fake_server.requests[-1]
    assert sent.body["system"] == "Be brief." and sent.body["temperature"] == 0.0
    keys = [v for k, v in sent.headers.items() if k in ("x-api-key", "authorization")]
    assert keys and set(keys) == {"<redacted>"}


def test_stop_sequences_and_max_tokens(client, fake_server):
    fake_server.add_answer("count", "one two three four five")
    m = ask(client, "count", stop_sequences=[" three"])
    assert m.content[0].text == "one two"
    assert m.stop_reason == "stop_sequence" and m.stop_sequence == " three"
    m = ask(client, "count", max_tokens=2)
    assert m.content[0].text == "one two" and m.stop_reason == "max_tokens"
    assert m.usage.output_tokens == 2


def test_temperature_out_of_range_and_negative_max_tokens(client, fake_server):
    with pytest.raises(anthropic.BadRequestError) as e:
        ask(client, "hi", extra_body={"temperature": 1.5}, extra_headers=OLD)
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError):  # 0 is allowed: see tests/claude
        client.messages.create(model="claude-haiku-4-5", max_tokens=-1,
                               messages=[{"role": "user", "content": "hi"}])


def test_prompt_too_long(client, fake_server):
    fake_server.context_limit = 30
    with pytest.raises(anthropic.BadRequestError) as e:
        ask(client, "word " * 40, max_tokens=5)
    assert "prompt is too long" in e.value.message


def test_count_tokens_matches_message_usage(client):
    n = client.messages.count_tokens(model="claude-haiku-4-5", system="Be brief.",
                                     messages=[{"role": "user", "content": "hello there"}])
    m = ask(client, "hello there", system="Be brief.")
    assert n.input_tokens == m.usage.input_tokens


def test_structured_output_format(client):
    import json

    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    m = ask(client, "What is the capital of Egypt?",
            output_config={"format": {"type": "json_schema", "schema": schema}})
    assert json.loads(m.content[0].text) == {"city": "Cairo"}


def test_errors_have_the_anthropic_shape(client, fake_server):
    fake_server.rate_limit(retry_after=2)
    with pytest.raises(anthropic.RateLimitError) as e:
        ask(client, "hi")
    h = e.value.response.headers
    assert h["retry-after"] == "2" and h["request-id"].startswith("req_")
    assert h["anthropic-ratelimit-requests-remaining"] == "0"
    assert "anthropic-ratelimit-tokens-reset" in h
    assert e.value.body["error"]["type"] == "rate_limit_error"
    fake_server.server_error(status=529)
    with pytest.raises(anthropic.APIStatusError) as e:
        ask(client, "hi")
    assert e.value.status_code == 529
    assert e.value.body["error"]["type"] == "overloaded_error"
    ok = client.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert "anthropic-ratelimit-requests-limit" in ok.headers


def test_the_current_api_version_has_no_sampling_fields(client):
    """2026-10-21 (the SDK's default) refuses each of them, even at its default value."""
    assert client.default_headers["anthropic-version"] == "2026-10-21"
    for field, value in (("temperature", 1.0), ("top_p", 1.0), ("top_k", 5)):
        with pytest.raises(anthropic.BadRequestError, match=f"{field}: Extra inputs are not "
                           "permitted"):
            ask(client, "hi", extra_body={field: value})


def test_unknown_keys_are_refused_as_the_sdk_types_say(client):
    with pytest.raises(anthropic.BadRequestError, match="frequency_penalty: Extra inputs"):
        ask(client, "hi", extra_body={"frequency_penalty": 0.5}, extra_headers=OLD)


@pytest.mark.parametrize("version", [None, "2024-01-01"])
def test_a_missing_or_unknown_api_version_is_a_400(fake_server, version):
    import json
    import urllib.error
    import urllib.request

    headers = {"x-api-key": "test", "content-type": "application/json"}
    if version:
        headers["anthropic-version"] = version
    body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 5,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = urllib.request.Request(fake_server.anthropic_base_url + "/v1/messages", body,
                                 method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400 and "anthropic-version" in json.loads(e.value.read())["error"]["message"]


@pytest.mark.parametrize("model,ok", [("claude-sonnet-4-6", True), ("claude-haiku-4-5", True),
                                      ("claude-opus-4-7", False), ("claude-sonnet-5-5", False)])
def test_old_api_version_takes_sampling_only_on_families_that_honour_it(client, model, ok):
    if ok:
        assert ask(client, "hi", model=model, extra_body={"temperature": 0.0},
                   extra_headers=OLD).content
    else:
        with pytest.raises(anthropic.BadRequestError, match="temperature"):
            ask(client, "hi", model=model, extra_body={"temperature": 0.0}, extra_headers=OLD)


def test_whitespace_only_stop_sequence_is_a_400(client):
    with pytest.raises(anthropic.BadRequestError, match="non-whitespace"):
        ask(client, "hi", stop_sequences=["\n\n"])


@pytest.mark.parametrize("model,ok", [("claude-haiku-4-5", True), ("claude-sonnet-4-6", False),
                                      ("claude-opus-4-7", False)])
def test_prefill_is_a_400_on_4_6_and_later(client, model, ok):
    turns = [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "The"}]
    if ok:
        assert client.messages.create(model=model, max_tokens=5, messages=turns).content
    else:
        with pytest.raises(anthropic.BadRequestError, match="prefill"):
            client.messages.create(model=model, max_tokens=5, messages=turns)


def test_missing_key_is_a_401(fake_server):
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(fake_server.url + "/v1/messages", b"{}", method="POST",
                                 headers={"anthropic-version": "2023-06-01"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401
    assert json.loads(e.value.read())["error"]["type"] == "authentication_error"


def batch_request(i, content=None):
    return {"custom_id": f"item-{i}", "params": {
        "model": "claude-haiku-4-5", "max_tokens": 20,
        "messages": [{"role": "user", "content": content or f"What is {i}*2?"}]}}


def poll(client, batch_id):
    for _ in range(20):
        b = client.messages.batches.retrieve(batch_id)
        if b.processing_status == "ended":
            return b
    raise AssertionError("batch never ended")


def test_message_batch_round_trip(client, fake_server):
    fake_server.batch_line_errors(match="poison", status=500)
    b = client.messages.batches.create(
        requests=[batch_request(i) for i in range(3)] + [batch_request(3, "poison")])
    assert b.processing_status == "in_progress" and b.results_url is None
    assert b.request_counts.processing == 4
    b = poll(client, b.id)
    assert b.ended_at is not None
    assert b.results_url.startswith(fake_server.url + "/v1/messages/batches/")
    assert (b.request_counts.succeeded, b.request_counts.errored) == (3, 1)
    results = {r.custom_id: r.result for r in client.messages.batches.results(b.id)}
    assert results["item-2"].type == "succeeded"
    assert results["item-2"].message.content[0].text == "4"
    assert results["item-3"].type == "errored"
    assert results["item-3"].error.error.type == "api_error"
    assert [x.id for x in client.messages.batches.list()] == [b.id]
    client.messages.batches.delete(b.id)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(b.id)


def test_message_batch_cancel_and_expiry(client, fake_server):
    b = client.messages.batches.create(requests=[batch_request(i) for i in range(4)])
    c = client.messages.batches.cancel(b.id)
    assert c.processing_status == "canceling" and c.cancel_initiated_at is not None
    b = poll(client, b.id)
    assert (b.request_counts.succeeded, b.request_counts.canceled) == (2, 2)
    kinds = sorted(r.result.type for r in client.messages.batches.results(b.id))
    assert kinds == ["canceled", "canceled", "succeeded", "succeeded"]

    fake_server.expire_next_batch(completed=1, provider="anthropic")
    b = poll(client, client.messages.batches.create(
        requests=[batch_request(i) for i in range(3)]).id)
    assert (b.request_counts.succeeded, b.request_counts.expired) == (1, 2)


def test_invalid_custom_id_is_refused(client):
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.create(requests=[{**batch_request(0), "custom_id": "a b"}])


def test_both_providers_on_one_server(fake_server):
    import openai

    oa = openai.OpenAI(base_url=fake_server.base_url, api_key="sk", max_retries=0)
    an = anthropic.Anthropic(base_url=fake_server.anthropic_base_url, api_key="k",
                             max_retries=0)
    assert "gpt-4o-mini" in [m.id for m in oa.models.list()]
    assert any(m.id.startswith("claude") for m in an.models.list())
    assert fake_server.counts == {"models.list": 1, "anthropic.models.list": 1}
