"""The event-loop path every API provider shares: its request bodies over the lean client
(`lmwrapper.runners.transport`) with the headers its SDK client would send, and each answer judged
as the SDK path judges it. A provider writes only the request and the parsing:

    class ClaudePredictor(ApiPredictor):
        supports_lean_http = True

        async def send_async(self, job, post):  # send_once, with `await post(...)` per request
            body = build_request(job.prompt, self.model)
            return [self._parse(await post("/v1/messages", body, headers_for(body)), job.prompt)]

`post(path, body, headers=None)` returns the text of a 2xx answer; `headers` replace the
client's for that request (Anthropic's `anthropic-version`, which depends on the body).
Everything else is here, once: the
rate-limit headers go to `lm.limiter`, a non-2xx answer goes through `lm.classify` with its
body parsed as the SDKs parse it (so Anthropic's spend-limit body is seen), and a failed
connection or a timeout is a `TransientProviderError` worded as on the SDK path.

The SDK stays in charge where the lean client would do less than it: behind a proxy (the
SDK honours $HTTPS_PROXY and friends) and whenever `LMWRAPPER_LIVE_HTTP=sdk` says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from lmwrapper.core.contract import AsyncBackend, AsyncPost, Job
from lmwrapper.core.errors import TransientProviderError
from lmwrapper.core.prompt import LmPrediction
from lmwrapper.runners.transport import AsyncHttp, HttpTimeoutError, HttpTransportError

__all__ = ["AsyncPost", "LeanSender", "lean_http_allowed", "sdk_headers"]


def lean_http_allowed(base_url: str) -> bool:
    """Whether live runs may use the lean client for `base_url`: not when
    `LMWRAPPER_LIVE_HTTP=sdk` asks for the SDK everywhere, nor behind a proxy."""
    if os.environ.get("LMWRAPPER_LIVE_HTTP", "").strip().lower() == "sdk":
        return False
    return not _proxied(base_url)


class LeanSender:
    """A `live_runner.AsyncSender` for any `AsyncBackend` (an `ApiPredictor` with
    `send_async`; made inside the event loop, closed when it ends)."""

    def __init__(self, lm: AsyncBackend) -> None:
        self._lm = lm
        self._http = AsyncHttp(lm.base_url, sdk_headers(lm.client()), timeout_s=lm.timeout_s)

    async def send(self, job: Job) -> Sequence[LmPrediction]:
        return await self._lm.send_async(job, self.post)

    async def post(self, path: str, body: Mapping[str, Any],
                   headers: Mapping[str, str] | None = None) -> str:
        """The text of a 2xx answer; otherwise the error the SDK path would raise."""
        lm = self._lm
        try:
            status, answer_headers, raw = await self._http.post(
                path, json.dumps(body).encode(), headers)
            text = _decoded(raw, answer_headers).decode("utf-8", "replace")
        except HttpTimeoutError:
            raise TransientProviderError(f"{lm.display_name} request to {lm.base_url} timed "
                                         f"out after {lm.timeout_s:g}s") from None
        except HttpTransportError as e:
            raise TransientProviderError(f"connection to {lm.base_url} failed: "
                                         f"{lm.scrub(str(e))}") from None
        lm.limiter.observe(answer_headers)
        if not 200 <= status < 300:
            raise lm.classify(status, _error_body(text), answer_headers)
        return text

    async def aclose(self) -> None:
        await self._http.aclose()


def sdk_headers(client: Any) -> dict[str, str]:
    """The headers the provider's SDK client sends on every request: auth (OpenAI's bearer
    token, Anthropic's key header), `anthropic-version`, organization, project, user agent.
    Taken from the client, not restated here, so the two paths cannot drift apart."""
    merged = {**client.default_headers, **client.auth_headers}
    return {k: v for k, v in merged.items() if isinstance(v, str)}  # not the SDK's Omit()


def _error_body(text: str) -> Any:
    """An error body as the SDKs hand it over: parsed JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _decoded(body: bytes, headers: dict[str, str]) -> bytes:
    """The body without gzip/deflate (not asked for, but a proxy may do it anyway)."""
    encoding = headers.get("content-encoding", "identity").lower()
    if encoding not in ("gzip", "deflate"):
        return body
    import zlib

    try:
        return zlib.decompress(body, 47)  # 47: gzip or zlib header, detected
    except zlib.error as e:  # a body cut short on the way: as a dropped connection
        raise HttpTransportError(f"cannot decode a {encoding} body: {e}") from None


def _proxied(base_url: str) -> bool:
    """Whether the environment routes `base_url` through a proxy."""
    import urllib.parse
    import urllib.request

    url = urllib.parse.urlsplit(base_url)
    proxies = urllib.request.getproxies()
    return bool(proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(
        url.hostname or "")
