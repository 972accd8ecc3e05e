"""Azure OpenAI: an OpenAI model served from a deployment on an Azure resource.

    >>> lm = get_open_ai_lm("gpt-5.4-mini", azure=AzureConfig(
    ...     endpoint="https://my-resource.openai.azure.com", deployment="my-gpt-54-mini"))

The model name stays the model's (prices, parameter rules, token counting); the deployment
name goes where Azure wants it. Two APIs, both current (sources below, read 2026-12-07):

  * the v1 API (the default; no `api_version`): `{endpoint}/openai/v1/chat/completions`,
    `/responses`, `/files`, `/batches`, the deployment named as the body's `model`, through
    the SDK's plain `openai.OpenAI` client (its key as a bearer token). Microsoft's docs
    have recommended it since August 2025 ("Azure OpenAI in Microsoft Foundry Models v1
    API", learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle: "`OpenAI()`
    client is used instead of `AzureOpenAI()` ... `/openai/v1` is appended to the endpoint
    address ... `api-version` is no longer a required parameter"), and so does the openai
    SDK's README (3.63.0, "Microsoft Azure OpenAI": the `OpenAI` client with the v1 base URL
    and the deployment as `model`; "For versioned Azure endpoints, the `AzureOpenAI` client").
  * the dated API (`api_version="2024-10-21"`, or `$OPENAI_API_VERSION`):
    `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`, files and
    batches at `{endpoint}/openai/files?api-version=...`, the key in an `api-key` header,
    through the SDK's `openai.AzureOpenAI` (openai/lib/azure.py: `_deployments_endpoints`,
    `_prepare_url`, `_auth_headers` → `{"api-key": key}`).

Batches (learn.microsoft.com/azure/ai-foundry/openai/how-to/batch, 2026-01-27, and its
REST and Python includes): they run on a *Global-Batch* deployment, which every line names
as its `model` (one deployment per file), `completion_window` must be "24h", the create
call's `endpoint` is "/chat/completions" (Azure reads the lines to tell chat from
responses); a line's `url` is "/v1/chat/completions" on the v1 API, "/chat/completions" on
the dated one. `batch_deployment` names that deployment (by default `deployment`).

The key: `api_key_secret=`, else `$AZURE_OPENAI_API_KEY` (the SDK's variable), sent only to
`endpoint`. The endpoint: `endpoint=`, else `$AZURE_OPENAI_ENDPOINT`. A deployment's answers
are keyed by the resource's endpoint and the deployment, apart from api.openai.com's and from
any other deployment's; the API (v1 or dated, and its version) is not part of the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from lmwrapper.core.errors import ConfigurationError, ModelNotFoundError, install_hint
from lmwrapper.core.prompt import LmPrompt
from lmwrapper.core.window import BACKGROUND_WINDOWS, SERVICE_TIERS, CompletionWindow
from lmwrapper.providers.openai.backend import OpenAiBackend
from lmwrapper.providers.openai.predictor import OpenAiPredictor
from lmwrapper.providers.openai.request import OpenAiRequest
from lmwrapper.runners.lean import sdk_http_client

ENDPOINT_VAR = "AZURE_OPENAI_ENDPOINT"  # the variables `openai.AzureOpenAI` reads
KEY_VAR = "AZURE_OPENAI_API_KEY"
VERSION_VAR = "OPENAI_API_VERSION"
BATCH_DEPLOYMENT_VAR = "LMWRAPPER_AZURE_BATCH_DEPLOYMENT"  # ours: the SDK has no batch setting
# Azure's deployment names: letters, digits, '-', '_', '.' (they go into a URL path)
_DEPLOYMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# The dated API's deployment-scoped paths (openai/lib/azure.py's `_deployments_endpoints`)
_DEPLOYMENT_PATHS = ("/chat/completions", "/completions")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureConfig:
    """Where an Azure OpenAI model is served (see the module docstring).

    `endpoint`: the resource, `https://<resource>.openai.azure.com`; else
    `$AZURE_OPENAI_ENDPOINT`. `deployment`: the deployment's name; else the model's name.
    `api_version`: a dated API version ("2024-10-21"); else `$OPENAI_API_VERSION`; else (or
    "v1") the v1 API. `batch_deployment`: the Global-Batch deployment batch lines name;
    else `$LMWRAPPER_AZURE_BATCH_DEPLOYMENT`; else `deployment`."""

    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    batch_deployment: str | None = None

    def resolved(self, model_name: str) -> AzureConfig:
        """Every field set: the arguments, then the environment, then the defaults."""
        endpoint = (self.endpoint or os.environ.get(ENDPOINT_VAR, "")).strip().rstrip("/")
        if not endpoint:
            raise ConfigurationError(
                f"no Azure OpenAI endpoint for {model_name!r}: pass azure=AzureConfig("
                f"endpoint='https://<resource>.openai.azure.com', ...) or set ${ENDPOINT_VAR}")
        url = urlsplit(endpoint)
        if url.scheme not in ("https", "http") or not url.hostname or url.path or url.query:
            raise ConfigurationError(
                f"Azure OpenAI endpoint {endpoint!r} is not a resource URL: give "
                "https://<resource>.openai.azure.com (no /openai/... path; the API is chosen "
                "by api_version)")
        endpoint = f"{url.scheme}://{url.netloc.lower()}"  # one spelling, one cache key
        version = self.api_version or os.environ.get(VERSION_VAR, "").strip() or "v1"
        deployment = self.deployment or model_name
        batch = (self.batch_deployment or os.environ.get(BATCH_DEPLOYMENT_VAR, "").strip()
                 or deployment)
        for name in (deployment, batch):
            if not _DEPLOYMENT.fullmatch(name):
                raise ConfigurationError(f"{name!r} is not an Azure deployment name (letters, "
                                         "digits, '-', '_' and '.'); pass deployment=")
        return AzureConfig(endpoint=endpoint, deployment=deployment,
                           api_version=None if version == "v1" else version,
                           batch_deployment=batch)

    @property
    def base_url(self) -> str:
        """What every request's path is joined to (a resolved config's)."""
        if self.api_version is None:
            return f"{self.endpoint}/openai/v1"
        return f"{self.endpoint}/openai?api-version={quote(self.api_version, safe='')}"


class AzureOpenAiBackend(OpenAiBackend):
    """`OpenAiBackend` for a deployment on Azure: same bodies, same parsing, same prices;
    its own URLs, key header and key variable."""

    display_name = "Azure OpenAI"
    key_env_var = KEY_VAR
    key_file = None  # type: ignore[assignment]  # ($AZURE_OPENAI_API_KEY or the argument)
    quota_hint = "raise the deployment's quota in the Azure AI Foundry portal"

    def __init__(self, model: Any, *, azure: AzureConfig, base_url: str | None = None,
                 **settings: Any) -> None:
        if base_url is not None:
            raise ValueError("give either base_url or azure, not both (azure's endpoint is the "
                             "resource URL, https://<resource>.openai.azure.com)")
        self.azure = azure.resolved(str(model))
        super().__init__(model, base_url=self.azure.base_url, **settings)

    def repr_fields(self) -> str:
        return (f"model={str(self.model)!r}, endpoint={self.azure.endpoint!r}, "
                f"deployment={self.azure.deployment!r}")

    def model_identity(self) -> dict[str, Any]:
        ident = super().model_identity()
        ident["base_url"] = self.azure.endpoint
        ident["azure_deployment"] = self.azure.deployment
        return ident

    def missing_model_message(self, fields: Mapping[str, Any]) -> str | None:
        """Azure's 404 for a deployment it does not have (`DeploymentNotFound`), besides
        OpenAI's own."""
        if fields.get("code") == "DeploymentNotFound":
            return str(fields.get("message") or "DeploymentNotFound")
        return super().missing_model_message(fields)

    def model_not_found(self, status: int | None, message: str) -> ModelNotFoundError:
        said = self.scrub(f"{self.display_name}{f' {status}' if status else ''}: {message}")
        return ModelNotFoundError(
            f"Azure OpenAI deployment {self.azure.deployment!r} not found on "
            f"{self.azure.endpoint} ({' '.join(said.split())}) — pass the name of a "
            "deployment of this resource as AzureConfig(deployment=...) (the Azure AI Foundry "
            "portal lists them)", model=str(self.model), status_code=status,
            code="model_not_found")

    def request_for(self, prompt: LmPrompt, n: int, *, batch: bool = False,
                    service_tier: str | None = None) -> OpenAiRequest:
        """The model's body naming the deployment; live on the dated API, the path of a
        deployment-scoped call carries it too; a dated batch line's `url` has no /v1."""
        req = super().request_for(prompt, n, service_tier=service_tier)
        deployment = self.azure.batch_deployment if batch else self.azure.deployment
        body = {**req.body, "model": deployment}
        if self.azure.api_version is None:
            return OpenAiRequest(req.url, body)
        if batch:
            return OpenAiRequest(req.path, body)
        prefix = f"/deployments/{deployment}" if req.path in _DEPLOYMENT_PATHS else ""
        return OpenAiRequest(prefix + req.path, body)

    def check_window(self, window: CompletionWindow) -> None:
        """No FLEX, PRIORITY or BACKGROUND windows on Azure here: the tiers and rates
        lmwrapper knows (genai-prices' `service_tier` prices, OpenAI's background discounts)
        are OpenAI's own, not an Azure deployment's."""
        if window in SERVICE_TIERS or window in BACKGROUND_WINDOWS:
            raise ValueError(f"Azure OpenAI deployment {self.azure.deployment!r}: lmwrapper "
                             f"knows no {window.value} window or price for Azure; use "
                             "CompletionWindow.ASAP or BATCH_ANY (a Global-Batch deployment)")

    def batch_endpoint(self) -> str:
        return super().batch_endpoint().removeprefix("/v1")  # Azure's docs: "/chat/completions"

    def _make_client(self, key: str) -> Any:
        try:
            import openai
        except ImportError as e:
            raise install_hint("openai", "openai") from e
        common = {"api_key": key, "max_retries": 0, "timeout": self.timeout_s,
                  "http_client": sdk_http_client(openai.DefaultHttpxClient)}
        if self.azure.api_version is None:
            return openai.OpenAI(base_url=self.base_url, **common)
        return openai.AzureOpenAI(azure_endpoint=str(self.azure.endpoint),
                                  api_version=self.azure.api_version, **common)


class AzureOpenAiPredictor(OpenAiPredictor):
    """The front door of an Azure OpenAI deployment (an `AzureOpenAiBackend`); made by
    `get_open_ai_lm(..., azure=AzureConfig(...))`."""

    backend_class = AzureOpenAiBackend

    def __init__(self, model: Any, *, azure: AzureConfig, **settings: Any) -> None:
        super().__init__(model, azure=azure, **settings)

    if TYPE_CHECKING:  # LmPredictor's (a call from the engine stays on its side)
        @property
        def backend(self) -> AzureOpenAiBackend: ...


__all__ = ["AzureConfig", "AzureOpenAiBackend", "AzureOpenAiPredictor"]
