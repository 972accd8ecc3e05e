"""Live requests over `aiohttp`, with what a POST that is paid for needs on top of it.

    http = AsyncHttp("https://api.openai.com/v1", {"authorization": "Bearer ..."}, timeout_s=300)
    status, headers, body = await http.post("/chat/completions", b'{"model": ...}')
    await http.aclose()

aiohttp speaks HTTP/1.1 (a keep-alive pool, chunked bodies and their trailers, `100 Continue`,
gzip and deflate, TLS) at a fraction of the CPU of the SDKs' httpx (benchmarks/bench_live.py).
On top of it, here:

  * one deadline for the whole request, `timeout_s`: connecting, sending, a redirect, a resend,
    reading — a server that trickles its answer cannot hold a request open past it;
  * a connection the server closed while it sat idle in the pool (a reused connection ends
    before any byte of an answer) is resent once, on a new connection, and counted
    (`resent`); every other failure is the caller's to retry or not;
  * a 307/308 to the same origin is followed with the same body (at most 5 times); any other
    redirect is refused (`HttpRedirectError`): a POST turned into a GET, or a key sent to
    another host, is never what was meant;
  * an answer that breaks HTTP (`Content-Length: 5, 5`) is `HttpProtocolError`: it may have
    been billed, so the caller must not buy it again;
  * TLS: `tls_context()`, the one context of both live paths (the SDK's client gets it too);
    a certificate that is not trusted is `HttpCertificateError`.

Transport failures worth retrying raise `HttpTransportError` (a timeout: `HttpTimeoutError`);
those not worth it, `HttpRefusedError`. `lmwrapper.runners.lean` says what each means. Files,
batches, proxies and streaming stay with the official SDKs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import platform
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from lmwrapper.core.errors import ConfigurationError

MAX_REDIRECTS = 5
# Set by the transport, never taken from a caller's headers.
_HOP_BY_HOP = frozenset({"host", "connection", "keep-alive", "content-length",
                         "transfer-encoding", "te", "upgrade", "accept-encoding"})


class HttpTransportError(Exception):
    """The request could not be sent or its response not read (connect, reset, timeout)."""


class HttpTimeoutError(HttpTransportError):
    """No complete response within the client's timeout."""


class HttpRefusedError(Exception):
    """A failure that a retry cannot mend (and that may have been billed): not retried."""


class HttpProtocolError(HttpRefusedError):
    """The server's answer breaks HTTP; it may have been billed."""


class HttpRedirectError(HttpRefusedError):
    """A redirect that is not a 307/308 to the same origin."""


class HttpCertificateError(HttpRefusedError):
    """The server's TLS certificate is not trusted."""


class AsyncHttp:
    """POSTs to one origin over a pool of keep-alive connections; use from one event loop."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout_s: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"AsyncHttp needs an http(s) base URL; got {base_url!r}")
        import aiohttp  # lazily: `import lmwrapper` does not load aiohttp

        self._aiohttp = aiohttp
        self._origin = f"{url.scheme}://{url.netloc.rpartition('@')[2]}"
        self._prefix = url.path.rstrip("/")
        self._query = f"?{url.query}" if url.query else ""  # e.g. Azure's ?api-version=
        self._timeout_s = timeout_s
        self._ssl: ssl.SSLContext | bool = (ssl_context or tls_context()) \
            if url.scheme == "https" else False
        self._headers = {k.lower(): v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        self._session = self._new_session(reuse=True)
        self._fresh: Any = None  # a session that never reuses a connection: for resends
        self._url = _yarl_url()
        self._urls: dict[str, Any] = {}
        self.resent = 0  # requests resent because a reused connection had been closed

    def _new_session(self, *, reuse: bool) -> Any:
        aiohttp = self._aiohttp
        connector = _connector_class()(limit=0, ssl=self._ssl, force_close=not reuse)
        return aiohttp.ClientSession(
            connector=connector, headers=self._headers, timeout=aiohttp.ClientTimeout(),
            trust_env=False, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar(),
            max_field_size=2**17, max_line_size=2**17)

    async def post(self, path: str, body: bytes, headers: Mapping[str, str] | None = None,
                   ) -> tuple[int, Mapping[str, str], bytes]:
        """(status, headers (their names in any case), body) of one POST of a JSON `body` to
        `path`; `headers` replace the client's headers of the same names for this request."""
        url = self._urls.get(path)
        if url is None:  # parsed once per path: a URL costs more to parse than to send
            url = self._urls[path] = self._url(f"{self._origin}{self._prefix}{path}{self._query}")
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._follow(url, body, headers)
        except TimeoutError:
            raise HttpTimeoutError(f"no response within {self._timeout_s:g}s") from None

    async def _follow(self, url: Any, body: bytes, headers: Mapping[str, str] | None,
                      ) -> tuple[int, Mapping[str, str], bytes]:
        """The answer, following 307/308 on this origin only."""
        for _ in range(MAX_REDIRECTS + 1):
            status, answer_headers, raw = await self._resend_if_stale(url, body, headers)
            if status not in (301, 302, 303, 307, 308) or "location" not in answer_headers:
                return status, answer_headers, raw
            url = self._redirect_target(url, status, answer_headers["location"])
        raise HttpRedirectError(f"more than {MAX_REDIRECTS} redirects from {self._origin}")

    def _redirect_target(self, url: Any, status: int, location: str) -> Any:
        from urllib.parse import urljoin

        target = urljoin(str(url), location)
        to = urlsplit(target)
        if status in (307, 308) and f"{to.scheme}://{to.netloc}" == self._origin:
            return self._url(target)
        why = ("to another origin, which would get the key" if status in (307, 308) else
               "that would turn the POST into a GET")
        raise HttpRedirectError(f"{self._origin} answered {status} redirecting to {target} "
                                f"({why}); not followed")

    async def _resend_if_stale(self, url: Any, body: bytes, headers: Mapping[str, str] | None,
                               ) -> tuple[int, Mapping[str, str], bytes]:
        # A pooled connection the server closed while idle ends before any byte of an answer:
        # the request never reached the server's application, so it is sent again, once, on a
        # connection of its own (another pooled one may be as stale).
        _REUSED.set(False)
        try:
            return await self._exchange(self._session, url, body, headers)
        except _Stale as stale:
            if not _REUSED.get():
                raise HttpTransportError(str(stale)) from None
        self.resent += 1
        if self._fresh is None:
            self._fresh = self._new_session(reuse=False)
        try:
            return await self._exchange(self._fresh, url, body, headers)
        except _Stale as stale:
            raise HttpTransportError(str(stale)) from None

    async def _exchange(self, session: Any, url: Any, body: bytes,
                        headers: Mapping[str, str] | None,
                        ) -> tuple[int, Mapping[str, str], bytes]:
        aiohttp = self._aiohttp
        try:
            async with session.post(url, data=body, headers=headers,
                                    allow_redirects=False) as resp:
                return resp.status, resp.headers, await resp.read()
        except aiohttp.ClientConnectorCertificateError as e:
            raise HttpCertificateError(untrusted(e.certificate_error)) from None
        except aiohttp.ClientResponseError as e:  # the parser's: a status line, a header
            raise HttpProtocolError(f"{self._origin} sent an answer HTTP does not allow: "
                                    f"{' '.join(e.message.split())}") from None
        except aiohttp.ClientConnectorError as e:
            raise HttpTransportError(f"cannot connect to {self._origin}: {e.os_error}") from None
        except aiohttp.ServerDisconnectedError as e:
            if isinstance(e.message, str):  # not a part of an answer's head: nothing arrived
                raise _Stale(f"{self._origin} closed the connection without answering") \
                    from None
            raise HttpTransportError(f"connection to {self._origin} failed: {e}") from None
        except aiohttp.ClientOSError as e:  # reset, or closed as the request was written
            raise _Stale(f"connection to {self._origin} failed: {e}") from None
        except (aiohttp.ClientError, OSError) as e:  # a body cut short, a bad encoding
            raise HttpTransportError(f"connection to {self._origin} failed: "
                                     f"{type(e).__name__}: {e}") from None

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._session.close()
        if self._fresh is not None:
            await self._fresh.close()


def _yarl_url() -> Any:
    from yarl import URL  # lazily: aiohttp's URL type (a dependency of aiohttp)

    return URL


class _Stale(Exception):
    """Nothing of an answer arrived: a stale connection if it was a reused one."""


# Whether the request this task is sending went on a pooled connection (set by the connector;
# a task sends one request at a time). aiohttp's tracing says it too, at a cost per request.
_REUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("lmwrapper_reused", default=False)


@functools.cache
def _connector_class() -> type:
    """aiohttp's TCPConnector, telling `_REUSED` whether each connection it hands out had
    carried a request before (its protocol object was seen: one set lookup per request)."""
    import weakref

    import aiohttp

    class Connector(aiohttp.TCPConnector):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._seen: weakref.WeakSet[Any] = weakref.WeakSet()

        async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
            conn = await super().connect(req, traces, timeout)
            reused = conn.protocol in self._seen
            _REUSED.set(reused)
            if not reused:
                self._seen.add(conn.protocol)
            return conn

    return Connector


# -- TLS: one context for both paths --------------------------------------------------------

def tls_context() -> ssl.SSLContext:
    """The TLS context of every live request, on the lean path and in the SDK's client, so
    that `predict` and `predict_many` trust the same certificates.

    `$SSL_CERT_FILE` and `$SSL_CERT_DIR`, when set, are the trust store (both, when both are
    set); else the system's (`truststore` on macOS and Windows, OpenSSL's default paths
    elsewhere, as the SDKs' httpx does); `$LMWRAPPER_TRUST_STORE=certifi` uses certifi's
    bundle instead. Made once per setting: loading a store costs milliseconds."""
    return _tls_context(os.environ.get("SSL_CERT_FILE") or None,
                        os.environ.get("SSL_CERT_DIR") or None,
                        os.environ.get("LMWRAPPER_TRUST_STORE", "").strip().lower() or None)


@functools.lru_cache(maxsize=4)
def _tls_context(cafile: str | None, capath: str | None, store: str | None) -> ssl.SSLContext:
    if store not in (None, "system", "certifi"):
        raise ValueError(f"LMWRAPPER_TRUST_STORE must be 'system' or 'certifi'; got {store!r}")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    if store == "certifi":
        try:
            import certifi  # lazily: needed only for this setting
        except ImportError:
            raise ConfigurationError("LMWRAPPER_TRUST_STORE=certifi needs certifi: "
                                     "pip install certifi") from None
        return ssl.create_default_context(cafile=certifi.where())
    if platform.system() in ("Darwin", "Windows"):
        try:
            import truststore  # lazily: the SDKs' httpx's dependency, macOS and Windows only

            return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        except ImportError:
            pass
    return ssl.create_default_context()


def untrusted(error: BaseException) -> str:
    """What a certificate failure says, worded the same on both paths."""
    return ("the server's TLS certificate is not trusted: "
            f"{getattr(error, 'verify_message', None) or error}")
