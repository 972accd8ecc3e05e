"""The event-loop path every API provider shares: its request bodies over the lean client
(`lmwrapper.runners.transport`) with the headers its SDK client would send, and each answer judged
as the SDK path judges it. A provider writes only the request and the parsing:

    class ClaudeBackend(HttpApiBackend):
        supports_lean_http = True

        async def send_async(self, job, post):  # send_once, with `await post(...)` per request
            body = build_request(job.prompt, self.model)
            return [self._parse(await post("/v1/messages", body, headers_for(body)), job.prompt)]

`post(path, body, headers=None)` returns the text of a 2xx answer; `headers` replace the
client's for that request (Anthropic's `anthropic-version`, which depends on the body).
Everything else is here, once: the
rate-limit headers go to `lm.limiter`, a non-2xx answer goes through `lm.classify` with its
body parsed as the SDKs parse it (so Anthropic's spend-limit body is seen), a failed
connection or a timeout is a `TransientProviderError` worded as on the SDK path, and what a
retry cannot mend — an untrusted certificate, a redirect away from the origin, an answer that
breaks HTTP (it may have been billed) — stops the run with one `ConfigurationError`
(`refusal_error`, which the SDK path raises too).

The SDK stays in charge where the lean client would do less than it: behind a proxy (the
SDK honours $HTTPS_PROXY and friends), with an `http_client` of the user's own (its headers,
TLS, auth and hooks are the SDK's to apply) and whenever `LMWRAPPER_LIVE_HTTP=sdk` says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lmwrapper.core.contract import AsyncBackend, AsyncPost, Job
from lmwrapper.core.errors import ConfigurationError, TransientProviderError
from lmwrapper.core.prompt import LmPrediction
from lmwrapper.runners.transport import (
    AsyncHttp,
    HttpCertificateError,
    HttpProtocolError,
    HttpRedirectError,
    HttpRefusedError,
    HttpTimeoutError,
    HttpTransportError,
    tls_context,
    untrusted,
)

__all__ = ["AsyncPost", "LeanSender", "lean_http_allowed", "refusal_error", "refused_behind",
           "sdk_headers", "sdk_http_client"]

# Set on the SDK's httpx client that lmwrapper makes (`sdk_http_client` below); a
# client without it is the user's own.
OURS = "_lmwrapper_made_it"


def lean_http_allowed(base_url: str, client: Any = None) -> bool:
    """Whether live runs may use the lean client for `base_url`: not when
    `LMWRAPPER_LIVE_HTTP=sdk` asks for the SDK everywhere, nor behind a proxy, nor when the
    SDK `client` (if made yet) sends through an http client of the user's own, nor without
    aiohttp (an install from before it was a dependency: the SDK still works)."""
    if os.environ.get("LMWRAPPER_LIVE_HTTP", "").strip().lower() == "sdk":
        return False
    if importlib.util.find_spec("aiohttp") is None:
        return False
    if client is not None and not getattr(getattr(client, "_client", None), OURS, False):
        return False  # (`_client`: the SDKs' httpx client; they have no public name for it)
    return not _proxied(base_url)


class LeanSender:
    """A `live_runner.AsyncSender` for any `AsyncBackend` (an `HttpApiBackend` with
    `send_async`; made inside the event loop, closed when it ends)."""

    def __init__(self, lm: AsyncBackend) -> None:
        self._lm = lm
        self._http = AsyncHttp(lm.base_url, sdk_headers(lm.client()), timeout_s=lm.timeout_s)

    @property
    def resent(self) -> int:
        """Requests sent again because the server had closed their pooled connection."""
        return self._http.resent

    async def send(self, job: Job) -> Sequence[LmPrediction]:
        return await self._lm.send_async(job, self.post)

    async def post(self, path: str, body: Mapping[str, Any],
                   headers: Mapping[str, str] | None = None) -> str:
        """The text of a 2xx answer; otherwise the error the SDK path would raise."""
        lm = self._lm
        try:
            status, answer_headers, raw = await self._http.post(
                path, json.dumps(body).encode(), headers)
            text = raw.decode("utf-8", "replace")
        except HttpRefusedError as e:
            raise refusal_error(lm.base_url, lm.scrub(str(e)), e) from None
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


def sdk_http_client(factory: Callable[..., Any]) -> Any:
    """The SDK's own httpx client (`factory`: its `DefaultHttpxClient`, with the SDK's pool
    limits and redirects followed) with what the lean path does too: the same TLS context
    (`tls_context`), and only redirects to the same origin that keep the method followed
    (httpx would follow any, and keep Anthropic's `x-api-key` on the way to another host)."""
    client = factory(verify=tls_context(), event_hooks={"response": [_refuse_redirect]})
    setattr(client, OURS, True)
    return client


def _refuse_redirect(response: Any) -> None:
    """An httpx response hook: raise HttpRedirectError for a redirect we do not follow."""
    if not response.has_redirect_location:
        return
    request_url = response.request.url
    target = request_url.join(response.headers["location"])
    keeps_method = response.status_code in (307, 308) or response.request.method == "GET"
    if keeps_method and target.origin == request_url.origin:
        return
    why = ("to another origin, which would get the key" if response.status_code in (307, 308)
           else "that would turn the POST into a GET")
    raise HttpRedirectError(f"{request_url.scheme}://{request_url.netloc.decode()} answered "
                            f"{response.status_code} redirecting to {target} ({why}); "
                            "not followed")


def refused_behind(error: BaseException) -> HttpRefusedError | None:
    """What a retry cannot mend behind an SDK's exception (which wraps it, or lets it through):
    a redirect `sdk_http_client` refused, or an untrusted certificate; else None."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, HttpRefusedError):
            return seen
        if isinstance(seen, ssl.SSLCertVerificationError):
            return HttpCertificateError(untrusted(seen))
        seen = seen.__cause__ or seen.__context__
    return None


def _error_body(text: str) -> Any:
    """An error body as the SDKs hand it over: parsed JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def refusal_error(base_url: str, detail: str, error: HttpRefusedError) -> ConfigurationError:
    """The one error, on either path, for what a retry cannot mend; it stops the run."""
    if isinstance(error, HttpCertificateError):
        fix = ("if a proxy or a private CA signs it, point $SSL_CERT_FILE (a bundle) or "
               "$SSL_CERT_DIR at its certificate; lmwrapper and the SDK both read them")
    elif isinstance(error, HttpProtocolError):
        fix = ("the answer may have been billed, so it is not bought again; a proxy or "
               "gateway in between is the usual cause (LMWRAPPER_LIVE_HTTP=sdk sends through "
               "the SDK's client instead)")
    else:
        fix = "set base_url to where the server sends you, if it is the one you trust"
    return ConfigurationError(f"{detail} (base_url {base_url!r}) — {fix}")


def _proxied(base_url: str) -> bool:
    """Whether the environment routes `base_url` through a proxy."""
    import urllib.parse
    import urllib.request

    url = urllib.parse.urlsplit(base_url)
    proxies = urllib.request.getproxies()
    return bool(proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(
        url.hostname or "")
