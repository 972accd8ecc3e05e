"""The fake OpenAI files and Batch API.

    create → validating → in_progress → finalizing → completed     (one step per poll)
           → failed     (bad input file, or a programmed `token_limit_exceeded`)
           → expired    (`srv.expire_next_batch(completed=k)`: k lines answered)
    cancel → cancelling → cancelled (lines answered before the cancel are kept)

Output and error files hold the real JSONL lines,
`{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`, in an
order that differs from the input (`srv.batch_shuffle = False` keeps input order).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import time
from typing import Any

from lmwrapper.testing.http import ApiError, Request, Response, Route
from lmwrapper.testing.jobs import (
    BatchSteps,
    Job,
    LineResult,
    due,
    page,
    run_lines,
    shuffled,
    take_fate,
)
from lmwrapper.testing.providers import openai as fake_openai
from lmwrapper.testing.providers import openai_responses

ENDPOINTS = {"/v1/chat/completions": fake_openai.chat_completions,
             "/v1/completions": fake_openai.completions,
             "/v1/responses": openai_responses.create_response}
TERMINAL = ("completed", "failed", "expired", "cancelled")
ACTIVE = ("validating", "in_progress", "finalizing")
from lmwrapper.testing.state import FakeContext, StoredFile


# -- files -----------------------------------------------------------------------------
def _file_object(file_id: str, name: str, size: int, purpose: str) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "bytes": size, "created_at": int(time.time()),
            "filename": name, "purpose": purpose, "status": "processed", "expires_at": None,
            "status_details": None}


def add_file(srv: FakeContext, name: str, content: bytes, purpose: str) -> dict[str, Any]:
    meta = _file_object(srv.new_id("file-"), name, len(content), purpose)
    with srv.lock:
        srv.state.files[meta["id"]] = StoredFile(meta, content)
    return meta


def _multipart(req: Request) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart body: name → (filename, bytes)."""
    ctype = req.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, "Expected a multipart/form-data body.")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


def create_file(srv: FakeContext, req: Request) -> Response:
    fields = _multipart(req)
    if "file" not in fields:
        raise ApiError(400, "Missing required parameter: 'file'.", param="file")
    purpose = fields.get("purpose", (None, b""))[1].decode()
    if not purpose:
        raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
    name, content = fields["file"]
    return Response(body=add_file(srv, name or "upload", content, purpose))


def get_file(srv: FakeContext, file_id: str) -> StoredFile:
    with srv.lock:
        found = srv.state.files.get(file_id)
    if found is None:
        raise ApiError(404, f"No such File object: {file_id}", param="id")
    return found


def retrieve_file(srv: FakeContext, req: Request) -> Response:
    return Response(body=get_file(srv, req.params["file_id"]).meta)


def file_content(srv: FakeContext, req: Request) -> Response:
    content = get_file(srv, req.params["file_id"]).content
    return Response(body=content, content_type="application/octet-stream")


def delete_file(srv: FakeContext, req: Request) -> Response:
    get_file(srv, req.params["file_id"])
    with srv.lock:
        srv.state.files.pop(req.params["file_id"], None)
    return Response(body={"id": req.params["file_id"], "object": "file", "deleted": True})


def list_files(srv: FakeContext, req: Request) -> Response:
    with srv.lock:
        metas = [f.meta for f in srv.state.files.values()]
    data = [m for m in reversed(metas) if req.query.get("purpose") in (None, m["purpose"])]
    items, more = page(data, req.query)
    return Response(body={"object": "list", "data": items, "has_more": more,
                          "first_id": items[0]["id"] if items else None,
                          "last_id": items[-1]["id"] if items else None})


# -- batches ---------------------------------------------------------------------------
def create_batch(srv: FakeContext, req: Request) -> Response:
    body = req.json()
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise ApiError(400, f"Invalid 'endpoint': the fake supports {sorted(ENDPOINTS)}.",
                       param="endpoint")
    check_create(body)
    content = get_file(srv, require_str(body, "input_file_id")).content
    return Response(body=batch_object(new_job(srv, body, endpoint, *_parse_input(content,
                                                                                  endpoint))))


def check_create(body: dict[str, Any]) -> None:
    """A batch create's window and metadata, as the API checks them."""
    if body.get("completion_window") != "24h":
        raise ApiError(400, "Invalid 'completion_window': only '24h' is supported.",
                       param="completion_window")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 16 or not all(
            isinstance(v, str) and len(v) <= 512 for v in metadata.values()):
        raise ApiError(400, "Invalid 'metadata': at most 16 string values of up to 512 "
                       "characters.", param="metadata")


def new_job(srv: FakeContext, body: dict[str, Any], endpoint: str,
            requests: list[tuple[str, dict[str, Any]]], errors: list[dict[str, Any]]) -> Job:
    """A batch of `requests` (custom_id, body) to `endpoint`, stored; it fails its validation
    with `errors`, if any."""
    metadata = body.get("metadata") or {}
    job = Job(srv.new_id("batch_"), "openai", requests, time.time(), "validating",
              model=requests[0][1].get("model", "") if requests else "")
    job.extra = {"endpoint": endpoint, "input_file_id": body["input_file_id"],
                 "metadata": metadata, "window": "24h"}
    take_fate(srv, job)
    if errors:
        job.fate, job.fail_errors = "fail", errors
    elif job.fate == "complete":
        _check_enqueued_tokens(srv, job)
    with srv.lock:
        srv.state.batches[job.id] = job
    return job


def require_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"Missing required parameter: '{name}'.", param=name)
    return value


def _parse_input(content: bytes, endpoint: str) -> tuple[list[tuple[str, dict[str, Any]]],
                                                         list[dict[str, Any]]]:
    """The (custom_id, body) pairs of a batch input file, and validation errors."""
    requests: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[Any] = set()
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        problem = _line_problem(item, seen, endpoint)
        if problem:
            errors.append({"code": problem[0], "message": problem[1], "param": None,
                           "line": number})
            continue
        seen.add(item["custom_id"])
        models.add(item["body"].get("model"))
        requests.append((item["custom_id"], item["body"]))
    if len(models) > 1:
        errors.append({"code": "mismatched_model", "param": "model", "line": None,
                       "message": "All requests in a batch must use the same model."})
    if not requests and not errors:
        errors.append({"code": "empty_file", "message": "The input file has no requests.",
                       "param": None, "line": None})
    return requests, errors


def _line_problem(item: Any, seen: set[str], endpoint: str) -> tuple[str, str] | None:
    """(code, message) of what is wrong with one parsed input line, or None."""
    if not isinstance(item, dict):
        return "invalid_json_line", "This line is not parseable as valid JSON."
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "missing_required_parameter", "Missing required parameter: 'custom_id'."
    if custom_id in seen:
        return "duplicate_custom_id", f"The custom_id '{custom_id}' is duplicated."
    if item.get("url") != endpoint:
        return "mismatched_endpoint", f"The url must match the batch's endpoint '{endpoint}'."
    if not isinstance(item.get("body"), dict):
        return "missing_required_parameter", "Missing required parameter: 'body'."
    return None


def _tokens(srv: FakeContext, job: Job) -> int:
    total = 0
    for _, body in job.requests:
        items = body.get("messages") or body.get("input") or []  # chat | responses
        items = [{"content": items}] if isinstance(items, str) else items
        texts = [fake_openai.content_text(m.get("content")) for m in items]
        prompt = body.get("prompt", "")
        texts += prompt if isinstance(prompt, list) else [prompt]
        total += sum(len(srv.tokenize(t)) for t in texts if isinstance(t, str))
    return total


def _check_enqueued_tokens(srv: FakeContext, job: Job) -> None:
    """A batch over `srv.batch_token_limit` enqueued tokens (with this model's other active
    batches) fails its validation, as the real API does."""
    limit = srv.batch_token_limit
    if limit is None:
        return
    with srv.lock:
        others = [j for j in srv.state.batches.values()
                  if j.provider == "openai" and j.model == job.model and j.status in ACTIVE]
    if sum(_tokens(srv, j) for j in others) + _tokens(srv, job) > limit:
        job.fate = "fail"
        job.fail_errors = [token_limit_error(job.model, limit)]


def token_limit_error(model: str, limit: int | None) -> dict[str, Any]:
    return {"code": "token_limit_exceeded", "param": None, "line": None,
            "message": f"Enqueued token limit reached for {model or 'this model'} in "
                       f"organization org-fake. Limit: {limit or 0:,} enqueued tokens. Please "
                       "try again once some in_progress batches have been completed."}


def advance(srv: FakeContext, job: Job, force: bool = False) -> None:
    """Take the job one step along its path when a poll makes it due."""
    if job.status in TERMINAL or not (force or due(srv, job)):
        return
    now, handler = time.time(), ENDPOINTS[job.extra["endpoint"]]
    if job.status == "validating":
        job.status = "failed" if job.fate == "fail" else "in_progress"
    elif job.status == "in_progress" and job.fate == "expire":
        keep = len(job.requests) // 2 if job.keep is None else job.keep
        job.results = run_lines(srv, job, handler, fake_openai.API, upto=keep)
        job.status = "expired"
        _write_files(srv, job)
    elif job.status == "in_progress":
        job.results = run_lines(srv, job, handler, fake_openai.API)
        job.status = "finalizing"
    elif job.status == "finalizing":
        job.status = "completed"
        _write_files(srv, job)
    elif job.status == "cancelling":
        job.results = run_lines(srv, job, handler, fake_openai.API, upto=job.keep or 0)
        job.status = "cancelled"
        _write_files(srv, job)
    job.stamps[job.status] = now


def _write_files(srv: FakeContext, job: Job) -> None:
    """Output (successes) and error (failed or unrun lines) files, when non-empty."""
    out: list[str] = []
    err: list[str] = []
    for r in job.results or []:
        line = _output_line(srv, r, job.status)
        (out if r.outcome == "succeeded" else err).append(json.dumps(line))
    for key, lines in (("output_file_id", out), ("error_file_id", err)):
        if lines:
            data = ("\n".join(shuffled(srv, job, lines)) + "\n").encode()
            job.extra[key] = add_file(srv, f"{job.id}_{key[:-8]}.jsonl", data,
                                      "batch_output")["id"]


def _output_line(srv: FakeContext, r: LineResult, status: str) -> dict[str, Any]:
    line: dict[str, Any] = {"id": srv.new_id("batch_req_"), "custom_id": r.custom_id,
                            "response": None, "error": None}
    if r.outcome == "unrun" and status == "expired":
        line["error"] = {"code": "batch_expired", "message": "This request could not be "
                         "executed before the completion window expired."}
    elif r.outcome == "unrun":
        line["error"] = {"code": "batch_cancelled", "message": "This request was not "
                         "executed because the batch was cancelled."}
    else:
        line["response"] = {"status_code": r.status, "request_id": srv.new_id("req_"),
                            "body": r.body}
    return line


def batch_object(job: Job) -> dict[str, Any]:
    results = job.results or []
    usage = [r.body.get("usage", {}) for r in results if r.outcome == "succeeded"]
    inp = sum(u.get("prompt_tokens", 0) for u in usage)
    outp = sum(u.get("completion_tokens", 0) for u in usage)
    stamp = {k: int(v) for k, v in job.stamps.items()}
    done = sum(r.outcome == "succeeded" for r in results)
    return {
        "id": job.id, "object": "batch", "endpoint": job.extra["endpoint"],
        "model": job.model or None,
        "errors": {"object": "list", "data": job.fail_errors} if job.status == "failed"
        else None,
        "input_file_id": job.extra["input_file_id"],
        "completion_window": job.extra["window"], "status": job.status,
        "output_file_id": job.extra.get("output_file_id"),
        "error_file_id": job.extra.get("error_file_id"),
        "created_at": int(job.created_at), "expires_at": int(job.created_at) + 86400,
        **{f"{s}_at": stamp.get(s) for s in ("in_progress", "finalizing", "completed",
                                            "failed", "expired", "cancelling", "cancelled")},
        "request_counts": {"total": len(job.requests), "completed": done,
                           "failed": len(results) - done if job.status != "cancelled"
                           else sum(r.outcome == "errored" for r in results)},
        "usage": {"input_tokens": inp, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": outp, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": inp + outp},
        "metadata": job.extra["metadata"],
    }


def _get_batch(srv: FakeContext, batch_id: str) -> Job:
    with srv.lock:
        job = srv.state.batches.get(batch_id)
    if job is None or job.provider != "openai":
        raise ApiError(404, f"No such Batch object: {batch_id}", param="batch_id")
    return job


def retrieve_batch(srv: FakeContext, req: Request) -> Response:
    job = _get_batch(srv, req.params["batch_id"])
    with srv.lock:
        advance(srv, job)
    return Response(body=batch_object(job))


def list_batches(srv: FakeContext, req: Request) -> Response:
    with srv.lock:
        jobs = [j for j in srv.state.batches.values() if j.provider == "openai"]
        data = [batch_object(j) for j in reversed(jobs)]
    items, more = page(data, req.query)
    return Response(body={"object": "list", "data": items, "has_more": more,
                          "first_id": items[0]["id"] if items else None,
                          "last_id": items[-1]["id"] if items else None})


def cancel_batch(srv: FakeContext, req: Request) -> Response:
    job = _get_batch(srv, req.params["batch_id"])
    with srv.lock:
        if job.status in TERMINAL or job.status == "cancelling":
            raise ApiError(409, f"Cannot cancel a batch with status '{job.status}'.")
        # Lines answered before the cancel arrived are kept: half of them once in progress.
        job.keep = len(job.requests) // 2 if job.status != "validating" else 0
        job.status = "cancelling"
        job.stamps["cancelling"] = time.time()
        job.polls = 0
    return Response(body=batch_object(job))


BATCHES = BatchSteps("openai", advance, TERMINAL, polls_to_end=3)

ROUTES = [
    Route("POST", "/v1/files", "files.create", "openai", create_file),
    Route("GET", "/v1/files", "files.list", "openai", list_files),
    Route("GET", "/v1/files/{file_id}", "files.retrieve", "openai", retrieve_file),
    Route("GET", "/v1/files/{file_id}/content", "files.content", "openai", file_content),
    Route("DELETE", "/v1/files/{file_id}", "files.delete", "openai", delete_file),
    Route("POST", "/v1/batches", "batches.create", "openai", create_batch),
    Route("GET", "/v1/batches", "batches.list", "openai", list_batches),
    Route("GET", "/v1/batches/{batch_id}", "batches.retrieve", "openai", retrieve_batch),
    Route("POST", "/v1/batches/{batch_id}/cancel", "batches.cancel", "openai", cancel_batch),
]
