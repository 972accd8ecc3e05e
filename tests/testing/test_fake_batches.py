"""The fake's OpenAI files and Batch API, driven through the real `openai` SDK."""

import io
import json

import openai
import pytest

from lmwrapper.testing import FakeServer


@pytest.fixture
def client(fake_server):
    return openai.OpenAI(base_url=fake_server.base_url, api_key="sk-test", max_retries=0)


def line(i, content=None, url="/v1/chat/completions", model="gpt-4o-mini"):
    return {"custom_id": f"req-{i}", "method": "POST", "url": url,
            "body": {"model": model, "max_tokens": 20,
                     "messages": [{"role": "user", "content": content or f"What is {i}+1?"}]}}


def upload(client, lines):
    data = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines).encode()
    return client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")


def submit(client, lines, **kw):
    f = upload(client, lines)
    return client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                 completion_window="24h", **kw)


def poll(client, batch_id, until=("completed", "failed", "expired", "cancelled")):
    seen = []
    for _ in range(20):
        b = client.batches.retrieve(batch_id)
        seen.append(b.status)
        if b.status in until:
            return b, seen
    raise AssertionError(f"batch never finished: {seen}")


def read_jsonl(client, file_id):
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]


def test_files_upload_retrieve_content_delete(client):
    f = upload(client, [line(0)])
    assert f.purpose == "batch" and f.status == "processed" and f.filename == "in.jsonl"
    assert client.files.retrieve(f.id).bytes == f.bytes
    assert json.loads(client.files.content(f.id).text) == line(0)
    assert [x.id for x in client.files.list()] == [f.id]
    assert client.files.delete(f.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)


def test_batch_walks_through_its_statuses_and_answers_like_live(client, fake_server):
    b = submit(client, [line(i) for i in range(5)], metadata={"run": "r1"})
    assert b.status == "validating" and b.metadata == {"run": "r1"}
    assert b.request_counts.total == 5
    b, seen = poll(client, b.id)
    assert seen == ["in_progress", "finalizing", "completed"]
    assert b.in_progress_at and b.finalizing_at and b.completed_at
    assert b.request_counts.completed == 5 and b.request_counts.failed == 0
    assert b.error_file_id is None and b.usage.output_tokens == 5
    out = read_jsonl(client, b.output_file_id)
    assert sorted(x["custom_id"] for x in out) == [f"req-{i}" for i in range(5)]
    assert [x["custom_id"] for x in out] != [f"req-{i}" for i in range(5)]  # order not kept
    by_id = {x["custom_id"]: x for x in out}
    r = by_id["req-2"]
    assert r["error"] is None and r["id"].startswith("batch_req_")
    assert r["response"]["status_code"] == 200 and r["response"]["request_id"]
    body = r["response"]["body"]
    assert body["choices"][0]["message"]["content"] == "3"
    live = client.chat.completions.create(**line(2)["body"])
    assert live.choices[0].message.content == "3"
    assert fake_server.counts["batches.retrieve"] == 3


def test_batch_list_pages_newest_first_with_metadata(client):
    ids = [submit(client, [line(0)], metadata={"n": str(i)}).id for i in range(3)]
    listed = list(client.batches.list(limit=2))
    assert [b.id for b in listed] == ids[::-1]
    assert [b.metadata["n"] for b in listed] == ["2", "1", "0"]
    first = client.batches.list(limit=2)
    assert len(first.data) == 2 and first.has_more


def test_per_line_errors_go_to_the_error_file(client, fake_server):
    fake_server.batch_line_errors(match="poison", status=500)
    fake_server.context_limits["gpt-4o-mini"] = 60
    b = submit(client, [line(0), line(1, "poison pill"), line(2, "word " * 80)])
    b, _ = poll(client, b.id)
    assert b.status == "completed"
    assert (b.request_counts.completed, b.request_counts.failed) == (1, 2)
    errors = {x["custom_id"]: x for x in read_jsonl(client, b.error_file_id)}
    assert errors["req-1"]["response"]["status_code"] == 500
    assert errors["req-1"]["response"]["body"]["error"]["type"] == "server_error"
    too_long = errors["req-2"]["response"]["body"]["error"]
    assert too_long["code"] == "context_length_exceeded"
    assert [x["custom_id"] for x in read_jsonl(client, b.output_file_id)] == ["req-0"]


def test_expired_batch_keeps_partial_output(client, fake_server):
    fake_server.expire_next_batch(completed=2)
    b, seen = poll(client, submit(client, [line(i) for i in range(5)]).id)
    assert seen[-1] == "expired" and b.expired_at
    assert (b.request_counts.completed, b.request_counts.failed) == (2, 3)
    assert len(read_jsonl(client, b.output_file_id)) == 2
    expired = read_jsonl(client, b.error_file_id)
    assert len(expired) == 3
    assert all(x["response"] is None and x["error"]["code"] == "batch_expired"
               for x in expired)


def test_token_limit_exceeded_fails_the_batch(client, fake_server):
    fake_server.fail_next_batch("token_limit_exceeded")
    b, seen = poll(client, submit(client, [line(0)]).id)
    assert seen == ["failed"] and b.failed_at
    assert b.errors.data[0].code == "token_limit_exceeded"
    assert "Enqueued token limit" in b.errors.data[0].message
    assert b.output_file_id is None
    b, _ = poll(client, submit(client, [line(0)]).id)
    assert b.status == "completed"


def test_enqueued_token_limit_counts_active_batches():
    with FakeServer(batch_token_limit=25) as srv:
        c = openai.OpenAI(base_url=srv.base_url, api_key="sk", max_retries=0)
        first = submit(c, [line(i) for i in range(3)])  # 18 prompt tokens, still validating
        second = submit(c, [line(i) for i in range(3)])
        assert poll(c, second.id)[0].errors.data[0].code == "token_limit_exceeded"
        assert poll(c, first.id)[0].status == "completed"


def test_invalid_input_file_fails_validation_with_line_numbers(client):
    lines = [line(0), "not json", line(0), line(3, url="/v1/completions")]
    b, _ = poll(client, submit(client, lines).id)
    assert b.status == "failed"
    assert [(e.code, e.line) for e in b.errors.data] == [
        ("invalid_json_line", 2), ("duplicate_custom_id", 3), ("mismatched_endpoint", 4)]


def test_bad_create_parameters_are_400s(client):
    f = upload(client, [line(0)])
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions",
                              completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                              completion_window="48h")


def test_cancel_in_progress_keeps_what_was_answered(client):
    b = submit(client, [line(i) for i in range(4)])
    assert client.batches.retrieve(b.id).status == "in_progress"
    c = client.batches.cancel(b.id)
    assert c.status == "cancelling" and c.cancelling_at
    b, seen = poll(client, b.id)
    assert seen == ["cancelled"] and b.cancelled_at
    assert len(read_jsonl(client, b.output_file_id)) == 2
    assert {x["error"]["code"] for x in read_jsonl(client, b.error_file_id)} == {
        "batch_cancelled"}
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(b.id)


def test_legacy_completions_batch(client):
    lines = [line(0, url="/v1/completions", model="gpt-3.5-turbo-instruct")]
    lines[0]["body"] = {"model": "gpt-3.5-turbo-instruct", "prompt": "2+2=", "max_tokens": 3}
    f = upload(client, lines)
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/completions",
                              completion_window="24h")
    b, _ = poll(client, b.id)
    assert read_jsonl(client, b.output_file_id)[0]["response"]["body"]["choices"][0][
        "text"] == " 4"


def test_slower_progress_and_finish_batches():
    with FakeServer(batch_polls_per_step=3, batch_shuffle=False) as srv:
        c = openai.OpenAI(base_url=srv.base_url, api_key="sk", max_retries=0)
        b = submit(c, [line(i) for i in range(3)])
        assert [c.batches.retrieve(b.id).status for _ in range(3)] == [
            "validating", "validating", "in_progress"]
        srv.finish_batches()
        b = c.batches.retrieve(b.id)
        assert b.status == "completed"
        assert [x["custom_id"] for x in read_jsonl(c, b.output_file_id)] == [
            "req-0", "req-1", "req-2"]
