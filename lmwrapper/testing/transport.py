"""The socket side of the fake server: a threading HTTP/1.1 server on loopback that hands
each request to a `respond(method, target, headers, body)` callable and writes back what it
returns (or drops the connection when it returns None). Nothing here knows any API.
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
import zlib
from collections.abc import Callable
from typing import Any

from lmwrapper.testing.http import Response

Respond = Callable[[str, str, dict[str, str], bytes], "Response | None"]


class LoopbackHttpServer(http.server.ThreadingHTTPServer):
    """One thread per connection; `close_all_connections` ends kept-alive ones on stop."""

    daemon_threads = True
    request_queue_size = 256  # a burst of concurrent clients must not overflow the backlog

    def __init__(self, address: tuple[str, int], respond: Respond, verbose: bool = False) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.respond, self.verbose = respond, verbose
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away before its answer was written (killed, timed out, Ctrl-C)
        is no error of the server's: say nothing, as a real server does, instead of printing
        a BrokenPipeError traceback for each. Any other error is printed as before."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def close_all_connections(self) -> None:
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server_version = "lmwrapper-fake/1"
    timeout = 120  # idle keep-alive connections are closed after this
    server: LoopbackHttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are two writes: without this, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:  # the request line only: no headers, no key
            sys.stderr.write(f"[fake] {self.address_string()} {format % args}\n")

    def _dispatch(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        resp = self.server.respond(self.command, self.path, headers, self._read_body())
        if resp is None:  # an injected dropped connection: close without a word
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(resp)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, resp: Response) -> None:
        payload = resp.payload()
        if resp.wire == "continue":  # an interim answer first (no Expect was sent: allowed)
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if resp.wire == "deflate":
            squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw: no zlib header
            payload = squeeze.compress(payload) + squeeze.flush()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        if resp.wire == "deflate":
            self.send_header("Content-Encoding", "deflate")
        if resp.wire == "trailers":
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
        elif resp.wire == "double_length":
            self.send_header("Content-Length", f"{len(payload)}, {len(payload)}")
        else:
            self.send_header("Content-Length", str(len(payload)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if resp.wire == "trailers":
            half = len(payload) // 2
            self.wfile.write(b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                                      for part in (payload[:half], payload[half:]) if part))
            self.wfile.write(b"0\r\nX-Checksum: %d\r\n\r\n" % zlib.crc32(payload))
        else:
            self.wfile.write(payload)
        if resp.wire == "continue":  # then closed, unannounced (no `Connection: close`)
            self.close_connection = True
