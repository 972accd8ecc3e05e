"""Issue 17's transport rows, each against a loopback server that misbehaves exactly so, on
both live HTTP paths (lean: aiohttp; sdk: `LMWRAPPER_LIVE_HTTP=sdk`) for every API provider.
Each test counts what the server billed (answers it produced, per prompt) and what the caller
got: every answer paid for is delivered, and none is bought twice."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import shutil
import ssl
import subprocess
import types

import pytest

from lmwrapper import ConfigurationError, RetryPolicy
from lmwrapper.runners.transport import AsyncHttp, HttpTransportError
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer
from lmwrapper.testing.server import REDIRECTED
from tests.api_providers import PROVIDERS, Provider

FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.05)
per_provider = pytest.mark.parametrize("provider", PROVIDERS, ids=str)
N = 20


@pytest.fixture(params=["lean", "sdk"])
def path(request, monkeypatch) -> str:
    """The live HTTP path under test."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    if request.param == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    else:
        monkeypatch.delenv("LMWRAPPER_LIVE_HTTP", raising=False)
    return request.param


def _prompts(n: int = N) -> list[LmPrompt]:
    return [LmPrompt(f"question {i} of the run", max_tokens=2, cache=False) for i in range(n)]


def _run(provider: Provider, srv: FakeServer, n: int = N, **kw):
    """(predictions, the model) of one `predict_many` of `n` prompts."""
    kw.setdefault("max_concurrency", 4)
    lm = provider.make(srv, retry=FAST, **kw)
    return list(lm.predict_many(_prompts(n))), lm


def _question(body) -> str:
    return re.search(r"question \d+", json.dumps(body)).group(0)


def sends(srv: FakeServer, provider: Provider) -> collections.Counter[str]:
    """Model calls that reached the server, per prompt."""
    return collections.Counter(_question(r.body) for r in srv.requests if r.route == provider.route)


def billed(srv: FakeServer, provider: Provider) -> collections.Counter[str]:
    """Answers the server produced (and would bill), per prompt."""
    return collections.Counter(_question(r.body) for r in srv.requests
                               if r.route == provider.route and r.status == 200)


def _used_sdk(srv: FakeServer) -> bool:
    return any("x-stainless-retry-count" in r.headers for r in srv.requests)


def _each_paid_once_and_delivered(srv, provider, preds, path) -> None:
    assert _used_sdk(srv) == (path == "sdk")
    assert not [p.error_message for p in preds if p.has_errors]
    paid = billed(srv, provider)
    assert len(paid) == N and set(paid.values()) == {1}, paid  # each bought once, none twice
    assert [p.completion_text for p in preds] and all(p.completion_text for p in preds)


# -- rows 3, 4, 6: HTTP that a careful client reads ----------------------------------------

@per_provider
@pytest.mark.parametrize("wire", ["trailers", "continue", "deflate"])
def test_answers_framed_as_gateways_frame_them_are_each_bought_once_and_delivered(
        provider, wire, path):
    """Row 3 (a chunked body with trailers: the trailer must not be read as the next answer on
    that connection), row 4 (`100 Continue` before the answer, then the connection closed
    unannounced), row 6 (raw deflate): every answer, on every connection, every time."""
    with FakeServer() as srv:
        fault = srv.wire_faults(wire)
        preds, _ = _run(provider, srv, max_concurrency=2)
        assert fault.fired >= N
        _each_paid_once_and_delivered(srv, provider, preds, path)


@per_provider
def test_a_repeated_content_length_is_read_or_refused_once_never_bought_again(provider, path):
    """Row 6, `Content-Length: N, N`: the SDK's h11 reads it (one value, repeated: RFC 9110
    allows it); aiohttp refuses it, and a refusal of an answer that was billed stops the run at
    once: never retried, never bought twice."""
    with FakeServer() as srv:
        srv.wire_faults("double_length")
        if path == "sdk":
            preds, _ = _run(provider, srv)
            _each_paid_once_and_delivered(srv, provider, preds, path)
            return
        lm = provider.make(srv, retry=FAST, max_concurrency=4)
        with pytest.raises(ConfigurationError, match="Content-Length") as info:
            list(lm.predict_many(_prompts()))
        paid = billed(srv, provider)
    assert "may have been billed" in str(info.value) and provider.key not in str(info.value)
    assert 1 <= len(paid) <= 4 and set(paid.values()) == {1}  # what was in flight, once each
    assert lm.last_runner_stats.retries == 0


# -- row 5: redirects ------------------------------------------------------------------------

@per_provider
@pytest.mark.parametrize("wire", ["redirect_307", "redirect_308"])
def test_a_redirect_on_the_same_origin_is_followed_with_the_body(provider, wire, path):
    with FakeServer() as srv:
        srv.wire_faults(wire)
        preds, _ = _run(provider, srv)
        redirected = [r for r in srv.requests if r.route == provider.route and r.status != 200]
        _each_paid_once_and_delivered(srv, provider, preds, path)
    assert len(redirected) == N and {r.status for r in redirected} == {int(wire[-3:])}


@per_provider
@pytest.mark.parametrize("wire", ["redirect_away", "redirect_303"])
def test_a_redirect_elsewhere_or_to_a_get_stops_the_run_and_the_key_stays_home(
        provider, wire, path):
    with FakeServer() as srv:
        srv.wire_faults(wire)
        lm = provider.make(srv, retry=FAST, max_concurrency=4)
        with pytest.raises(ConfigurationError, match="not followed") as info:
            list(lm.predict_many(_prompts()))
        followed = [r for r in srv.requests if REDIRECTED in r.path or r.method == "GET"]
        assert _used_sdk(srv) == (path == "sdk")
        paid = billed(srv, provider)
    assert not followed and not paid and lm.last_runner_stats.retries == 0
    assert provider.key not in str(info.value)


# -- row 7: a pooled connection the server closed while idle ---------------------------------

@per_provider
def test_a_reused_connection_closed_by_the_server_is_resent_once_and_counted(provider, path):
    """The server drops the 4th request of a run that sends one at a time: that request went
    on a reused connection. The lean path resends it once by itself (`stats.resent`), the SDK
    path through the runner (`stats.retries`); either way it is counted and bought once."""
    with FakeServer() as srv:
        srv.drop_connections(times=1, match="question 3 ")
        preds, lm = _run(provider, srv, max_concurrency=1)
        _each_paid_once_and_delivered(srv, provider, preds, path)
        sent = sends(srv, provider)
    stats = lm.last_runner_stats
    assert sent["question 3"] == 2 and sum(sent.values()) == N + 1
    assert (stats.resent, stats.retries) == ((1, 0) if path == "lean" else (0, 1))


@per_provider
def test_a_new_connection_closed_without_an_answer_is_the_runners_to_retry(provider, path):
    """A connection of its own, closed before any answer: not a stale pooled one, so not
    resent silently; the runner retries it, and counts it."""
    with FakeServer() as srv:
        srv.drop_connections(times=1, match="question 0 ")
        preds, lm = _run(provider, srv, max_concurrency=1)
        _each_paid_once_and_delivered(srv, provider, preds, path)
    assert (lm.last_runner_stats.resent, lm.last_runner_stats.retries) == (0, 1)


def test_every_pooled_connection_stale_costs_two_sends_not_the_pool_plus_one():
    """The old client tried each pooled connection in turn (pool size + 1 sends of one POST);
    now: the stale one, then one on a new connection."""
    arrived: list[int] = []  # per request: the number of requests its connection had carried

    async def serve(reader, writer) -> None:
        carried = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                await reader.readexactly(length)
                arrived.append(carried)
                if carried == stale_after[0]:
                    break  # closed, unanswered: as a server whose idle timeout just ran out
                carried += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    stale_after = [99]

    async def main() -> tuple[int, tuple[int, dict, bytes]]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        http = AsyncHttp(f"http://127.0.0.1:{port}/v1", {}, timeout_s=30)
        gate = asyncio.Event()

        async def warm() -> None:  # 8 requests at once: 8 connections in the pool
            await gate.wait()
            await http.post("/x", b"{}")

        tasks = [asyncio.create_task(warm()) for _ in range(8)]
        gate.set()
        await asyncio.gather(*tasks)
        stale_after[0] = 1  # from now on the server closes each pooled connection on use
        del arrived[:]
        answer = await http.post("/x", b'{"a": 1}')
        resent = http.resent
        await http.aclose()
        server.close()
        return resent, answer

    resent, answer = asyncio.run(main())
    assert answer[0] == 200 and answer[2] == b"ok"
    assert len(arrived) == 2 and resent == 1  # the stale connection, then a new one


# -- the deadline --------------------------------------------------------------------------

def test_a_trickling_server_cannot_hold_a_request_past_its_deadline():
    async def trickle(reader, writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        try:
            while True:  # a byte now and then: no read ever waits long
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.02)
        except (ConnectionError, asyncio.CancelledError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(trickle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        http = AsyncHttp(f"http://127.0.0.1:{port}", {}, timeout_s=0.3)
        try:
            await http.post("/x", b"{}")
        finally:
            await http.aclose()
            server.close()

    with pytest.raises(HttpTransportError, match="no response within 0.3s"):
        asyncio.run(main())


# -- row 9: one trust store for both paths; an untrusted certificate stops the run -----------

@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> types.SimpleNamespace:
    """A test CA and a certificate for 127.0.0.1 signed by it (`openssl` CLI), the CA alone
    in a directory as OpenSSL's `SSL_CERT_DIR` wants it (`<subject hash>.0`), and a bundle of
    an unrelated CA."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> str:
        return subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True,
                              text=True).stdout

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for name in ("ca", "other"):
        openssl("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.pem",
                "-days", "2", "-subj", f"/CN=lmwrapper test {name}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                               "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    (d / "dir").mkdir()
    shutil.copy(d / "ca.pem", d / "dir" / f"{openssl('x509', '-hash', '-noout', '-in', 'ca.pem').strip()}.0")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(d / "srv.pem", d / "srv.key")
    return types.SimpleNamespace(ca_dir=str(d / "dir"), other=str(d / "other.pem"), server=server)


@per_provider
def test_predict_and_predict_many_trust_the_same_store(provider, path, pki, monkeypatch):
    """Row 9: SSL_CERT_FILE (a bundle without the server's CA) and SSL_CERT_DIR (with it) both
    set. `predict` (the SDK's client) and `predict_many` (the lean path, or the SDK's) read
    both, the same way: both trust the server."""
    monkeypatch.setenv("SSL_CERT_FILE", pki.other)
    monkeypatch.setenv("SSL_CERT_DIR", pki.ca_dir)
    with FakeServer(tls=pki.server) as srv:
        lm = provider.make(srv, retry=FAST, max_concurrency=4)
        one = lm.predict(LmPrompt("a single question 99", max_tokens=2, cache=False))
        many = list(lm.predict_many(_prompts(6)))
        assert _used_sdk(srv)  # `predict` went through the SDK's client
    assert not one.has_errors and not [p.error_message for p in many if p.has_errors]


@per_provider
def test_an_untrusted_certificate_stops_the_run_with_one_clear_error(
        provider, path, pki, monkeypatch):
    """Row 9: a certificate no trusted CA signed is not a transient failure: `predict_many`
    and `predict` each raise one ConfigurationError that says what to set, nothing retried."""
    monkeypatch.setenv("SSL_CERT_FILE", pki.other)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with FakeServer(tls=pki.server) as srv:
        lm = provider.make(srv, retry=FAST, max_concurrency=4)
        with pytest.raises(ConfigurationError, match="TLS certificate is not trusted") as many:
            list(lm.predict_many(_prompts()))
        assert lm.last_runner_stats.retries == 0
        with pytest.raises(ConfigurationError, match="TLS certificate is not trusted") as one:
            lm.predict(LmPrompt("a single question 99", max_tokens=2, cache=False))
        assert lm.last_runner_stats.retries == 0 and not srv.requests
        url = srv.url
    for info in (many, one):
        assert "SSL_CERT_FILE" in str(info.value) and url in str(info.value)


# -- row 14: an http client of the user's own -----------------------------------------------

@per_provider
def test_headers_of_the_users_own_http_client_reach_the_server(provider, monkeypatch):
    """A provider's SDK client made on an http client of the user's own (its headers, and
    whatever else it was given: TLS, auth, hooks): live runs go through it, the SDK path,
    rather than the lean one that would drop them."""
    monkeypatch.delenv("LMWRAPPER_LIVE_HTTP", raising=False)
    sdk = __import__(provider.name)
    with FakeServer() as srv:
        lm = provider.make(srv, retry=FAST, max_concurrency=4)
        lm._make_client = lambda key: getattr(sdk, "OpenAI" if provider.name == "openai" else
                                              "Anthropic")(
            api_key=key, base_url=lm.base_url, max_retries=0,
            http_client=sdk.DefaultHttpxClient(headers={"X-Team": "nlp"}))
        preds = list(lm.predict_many(_prompts(6)))
        one = lm.predict(LmPrompt("a single question 99", max_tokens=2, cache=False))
        calls = [r for r in srv.requests if r.route == provider.route]
        assert lm.async_sender() is None
    assert not [p.error_message for p in [*preds, one] if p.has_errors]
    assert len(calls) == 7 and all(r.headers.get("x-team") == "nlp" for r in calls)


def test_the_base_urls_query_goes_on_every_request():
    """Azure OpenAI's `?api-version=` lives in the base URL: it is sent with each path."""
    targets: list[bytes] = []

    async def serve(reader, writer) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)))
        targets.append(head.split(b" ")[1])
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        http = AsyncHttp(f"http://127.0.0.1:{port}/openai/deployments/d1?api-version=2024-10-21",
                         {"api-key": "k"}, timeout_s=30)
        await http.post("/chat/completions", b"{}")
        await http.aclose()
        server.close()

    asyncio.run(main())
    assert targets == [b"/openai/deployments/d1/chat/completions?api-version=2024-10-21"]
