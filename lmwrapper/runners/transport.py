"""A lean HTTP/1.1 client on asyncio streams, for the hot loop of hundreds of requests in flight.

    http = AsyncHttp("https://api.openai.com/v1", {"authorization": "Bearer ..."}, timeout_s=300)
    status, headers, body = await http.post("/chat/completions", b'{"model": ...}')
    await http.aclose()

Why not the SDK or httpx here: measured on 2 cores (benchmarks/bench_live.py), the async SDK
and a bare `httpx` AsyncClient spend 2-6 ms of CPU per request in their layers (anyio,
typed models, pool bookkeeping), so 256 in flight cannot be fed. This does only what one
JSON POST to one origin needs: a keep-alive pool, Content-Length and chunked bodies, TLS,
a timeout. Everything else (files, batches, proxies, streaming) stays with the official SDK.
Transport failures raise `HttpTransportError` (a timeout: its subclass `HttpTimeoutError`);
the caller decides what they mean (`lmwrapper.runners.lean`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit


class HttpTransportError(Exception):
    """The request could not be sent or its response not read (connect, reset, timeout)."""


class HttpTimeoutError(HttpTransportError):
    """No complete response within the client's timeout."""


class AsyncHttp:
    """POSTs to one origin over a pool of keep-alive connections; use from one event loop."""

    def __init__(self, base_url: str, headers: dict[str, str], *, timeout_s: float) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"AsyncHttp needs an http(s) base URL; got {base_url!r}")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._prefix = url.path.rstrip("/")
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        host = url.netloc.rpartition("@")[2]
        self._fixed = {"host": host, "connection": "keep-alive",
                       **{k.lower(): v for k, v in headers.items()}}
        self._head = _head(self._fixed)
        self._timeout_s = timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: Mapping[str, str] | None = None,
                   ) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-cased headers, body) of one POST of a JSON `body` to `path`;
        `headers` replace the client's headers of the same names for this request."""
        head = _head({**self._fixed, **{k.lower(): v for k, v in headers.items()}}) \
            if headers else self._head
        request = (f"POST {self._prefix}{path} HTTP/1.1\r\n{head}"
                   f"content-length: {len(body)}\r\n\r\n").encode("latin-1") + body
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._exchange(request)
        except TimeoutError:
            raise HttpTimeoutError(f"no response within {self._timeout_s:g}s") from None

    async def _exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        # A pooled connection may have been closed by the server while idle; that shows as
        # an empty read before any byte of a response, and then one fresh connection is tried.
        while self._idle:
            conn = self._idle.pop()
            try:
                return await self._on(conn, request, reused=True)
            except _StaleConnection:
                continue
        try:
            conn = await asyncio.open_connection(self._host, self._port, ssl=self._ssl,
                                                 limit=2**20)
        except OSError as e:
            raise HttpTransportError(f"cannot connect to {self._host}:{self._port}: {e}") from None
        return await self._on(conn, request, reused=False)

    async def _on(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                  request: bytes, *, reused: bool) -> tuple[int, dict[str, str], bytes]:
        reader, writer = conn
        keep = False
        try:
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                if reused and not getattr(e, "partial", b""):
                    raise _StaleConnection from None  # closed while idle: no answer began
                raise
            status, headers = _parse_head(head)
            body = await _read_body(reader, headers)
            keep = headers.get("connection", "").lower() != "close"
            return status, headers, body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            raise HttpTransportError(f"connection to {self._host}:{self._port} failed: "
                                     f"{type(e).__name__}: {e}") from None
        finally:
            if keep:
                self._idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()


def _head(headers: Mapping[str, str]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items())


class _StaleConnection(Exception):
    pass


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected: the final CRLF
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    headers["connection"] = "close"  # the body runs to the end of the connection
    return await reader.read()
