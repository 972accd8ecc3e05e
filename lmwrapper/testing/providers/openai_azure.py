"""The fake Azure OpenAI: OpenAI's fake answers under Azure's URLs, key header and rules.

    srv.azure_deployments = {"my-54-mini": "gpt-5.4-mini"}       # standard deployments
    srv.azure_batch_deployments = {"my-batch": "gpt-5.4-mini"}   # Global-Batch deployments
    lm = get_open_ai_lm("gpt-5.4-mini", azure=AzureConfig(endpoint=srv.url, deployment="my-54-mini"))

What Azure enforces, enforced here (sources: learn.microsoft.com/azure/ai-foundry/openai/
api-version-lifecycle and how-to/batch with its REST include, read 2026-12-07):

  * the dated API (`/openai/deployments/{deployment}/chat/completions`, `/openai/responses`,
    `/openai/files`, `/openai/batches`): `?api-version=` required — without it a 404
    `{"error": {"code": "404", "message": "Resource not found"}}` (MicrosoftDocs/azure-docs
    issue 114602) — and the key in an `api-key` header (a bearer token there is a Microsoft
    Entra token, which an API key is not: 401);
  * the v1 API (`/openai/v1/chat/completions`, `/responses`, `/files`, `/batches`; no
    `/completions` in its table): the key in `api-key` or as a bearer token (Microsoft's
    curl examples send `api-key`, its Python examples the `OpenAI` client's bearer);
  * a deployment that does not exist: 404 `DeploymentNotFound` ("The API deployment for this
    resource does not exist...", as Azure answers: e.g. Azure-Samples/
    azure-search-openai-demo-csharp issue 379); a standard deployment serves live calls, a
    Global-Batch one serves batches (and is named by every line's `model`, one per file:
    `model_not_found`, `model_mismatch`); lines' `url` must match the create's `endpoint`
    ("/chat/completions" or "/responses", with or without "/v1": `url_mismatch`).

The answers are OpenAI's fake's (the body's `model` is the deployment's model); batches
share its files and jobs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from lmwrapper.testing.http import ApiError, Handler, Request, Response, Route
from lmwrapper.testing.providers import openai as fake_openai
from lmwrapper.testing.providers import openai_batches as fake_batches
from lmwrapper.testing.providers import openai_responses
from lmwrapper.testing.state import FakeContext

NAME = "azure-openai"
_ENDPOINTS = ("/chat/completions", "/responses")  # what a batch create may name


def _claims(path: str, headers: Any) -> bool:
    return path.startswith("/openai/")


API = dataclasses.replace(fake_openai.API, name=NAME, claims=_claims, key_headers=("api-key",),
                          key_hint="api-key header.", base_url_var=None, base_path="",
                          test_model=None)


def _check(req: Request, *, dated: bool) -> None:
    """The dated API's `api-version` and `api-key` header (the key itself: the server's)."""
    if not dated:
        return
    if not req.query.get("api-version"):
        raise ApiError(404, "Resource not found", type="", code="404")
    if not req.headers.get("api-key", "").strip():
        raise ApiError(401, "Access denied due to invalid subscription key or wrong API "
                       "endpoint. Make sure to provide a valid key for an active subscription "
                       "and use a correct regional API endpoint for your resource.",
                       type="", code="401")


def _model_of(deployments: dict[str, str], name: Any) -> str:
    model = deployments.get(name) if isinstance(name, str) else None
    if model is None:
        raise ApiError(404, "The API deployment for this resource does not exist. If you "
                       "created the deployment within the last 5 minutes, please wait a "
                       "moment and try again.", type="", code="DeploymentNotFound")
    return model


def _deployed(handler: Handler, *, dated: bool) -> Handler:
    """`handler` (OpenAI's) for a deployment: named in the path, else as the body's model."""
    def serve(srv: FakeContext, req: Request) -> Response:
        _check(req, dated=dated)
        body = req.json()
        body["model"] = _model_of(srv.azure_deployments,
                                  req.params.get("deployment") or body.get("model"))
        return handler(srv, dataclasses.replace(req, body=json.dumps(body).encode()))
    return serve


def _checked(handler: Handler, *, dated: bool) -> Handler:
    def serve(srv: FakeContext, req: Request) -> Response:
        _check(req, dated=dated)
        return handler(srv, req)
    return serve


def _create_batch(*, dated: bool) -> Handler:
    def serve(srv: FakeContext, req: Request) -> Response:
        _check(req, dated=dated)
        body = req.json()
        endpoint = str(body.get("endpoint") or "").removeprefix("/v1")
        if endpoint not in _ENDPOINTS:
            raise ApiError(400, f"Invalid 'endpoint': one of {list(_ENDPOINTS)}.",
                           param="endpoint")
        fake_batches.check_create(body)
        content = fake_batches.get_file(srv, fake_batches.require_str(body, "input_file_id"))
        requests, errors = _lines(srv, content.content, endpoint)
        job = fake_batches.new_job(srv, body, "/v1" + endpoint, requests, errors)
        return Response(body=fake_batches.batch_object(job))
    return serve


def _lines(srv: FakeContext, content: bytes, endpoint: str,
           ) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """An input file's (custom_id, body with the deployment's model) pairs, and Azure's
    validation errors."""
    requests: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    deployments: set[Any] = set()
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        problem, item = _line_problem(line, {cid for cid, _ in requests}, endpoint)
        if problem is None:
            deployments.add(item["body"].get("model"))
            requests.append((item["custom_id"], dict(item["body"])))
        else:
            errors.append({"code": problem[0], "message": problem[1], "param": None,
                           "line": number})
    if len(deployments) > 1:
        errors.append({"code": "model_mismatch", "param": "model", "line": None, "message":
                       "The model deployment name must be the same on every line."})
    for _, body in requests:
        model = srv.azure_batch_deployments.get(str(body.get("model")))
        if model is None:
            errors.append({"code": "model_not_found", "param": "model", "line": None,
                           "message": "The Azure OpenAI model deployment name that was "
                           "specified in the model property of the input file wasn't found."})
            break
        body["model"] = model
    return requests, errors


def _line_problem(line: str, seen: set[str], endpoint: str,
                  ) -> tuple[tuple[str, str] | None, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        item = None
    if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
        return ("invalid_json_line", "A line in the input file is not valid JSON."), None
    if not isinstance(item.get("custom_id"), str) or item["custom_id"] in seen:
        return ("duplicate_custom_id", "The custom ID of this request is a duplicate."), None
    if str(item.get("url") or "").removeprefix("/v1") != endpoint:
        return ("url_mismatch", "The URL of this line does not match the endpoint."), None
    return None, item


def _routes(prefix: str, *, dated: bool) -> list[Route]:
    """Azure's files and batches under `prefix`, on OpenAI's fake's handlers."""
    b = fake_batches
    table: list[tuple[str, str, str, Handler]] = [
        ("POST", "/files", "files.create", b.create_file),
        ("GET", "/files", "files.list", b.list_files),
        ("GET", "/files/{file_id}", "files.retrieve", b.retrieve_file),
        ("GET", "/files/{file_id}/content", "files.content", b.file_content),
        ("DELETE", "/files/{file_id}", "files.delete", b.delete_file),
        ("GET", "/batches", "batches.list", b.list_batches),
        ("GET", "/batches/{batch_id}", "batches.retrieve", b.retrieve_batch),
        ("POST", "/batches/{batch_id}/cancel", "batches.cancel", b.cancel_batch),
    ]
    routes = [Route(method, prefix + path, name, NAME, _checked(handler, dated=dated))
              for method, path, name, handler in table]
    routes.append(Route("POST", prefix + "/batches", "batches.create", NAME,
                        _create_batch(dated=dated)))
    routes.append(Route("POST", prefix + "/responses", "responses.create", NAME,
                        _deployed(openai_responses.create_response, dated=dated),
                        model_call=True))
    return routes


ROUTES = [
    Route("POST", "/openai/deployments/{deployment}/chat/completions", "chat.completions",
          NAME, _deployed(fake_openai.chat_completions, dated=True), model_call=True),
    Route("POST", "/openai/deployments/{deployment}/completions", "completions", NAME,
          _deployed(fake_openai.completions, dated=True), model_call=True),
    Route("POST", "/openai/v1/chat/completions", "chat.completions", NAME,
          _deployed(fake_openai.chat_completions, dated=False), model_call=True),
    *_routes("/openai/v1", dated=False),
    *_routes("/openai", dated=True),
]
