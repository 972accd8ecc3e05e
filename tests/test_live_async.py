"""The live runner on an event loop over the lean HTTP client, for every API provider: same
answers as the SDK path, hundreds in flight without a thread each, faults retried, a stop or
Ctrl-C that keeps what was sent, and the HTTP corners the lean client must handle."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from cache_file import cache_stats

from lmwrapper import RetryPolicy
from lmwrapper.runners.transport import AsyncHttp, HttpTransportError
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer
from tests.api_providers import PROVIDERS, Provider

ROOT = str(Path(__file__).resolve().parent.parent)  # the child imports tests.api_providers
FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.05)
per_provider = pytest.mark.parametrize("provider", PROVIDERS, ids=str)


def _answers(provider: Provider, srv: FakeServer, prompts: list[LmPrompt], **kw) -> list:
    return list(provider.make(srv, **kw).predict_many(prompts))


def sdk_was_used(srv: FakeServer) -> bool:
    """Whether a request came through the official SDK (it sends its retry count; the lean
    client does not)."""
    return any("x-stainless-retry-count" in r.headers for r in srv.requests)


def _canonical(bodies: list) -> list[str]:
    return sorted(json.dumps(b, sort_keys=True) for b in bodies)


def _varied_prompts(provider: Provider) -> list[LmPrompt]:
    """Prompts that use most of a request body: system turns, stop, prefill, samples, a schema."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=5, cache=False) for i in range(3)] + [
        LmPrompt([("system", "Be brief."), "Name a colour", "The colour is"], max_tokens=8,
                 stop=["\n"], temperature=0, cache=False),
        LmPrompt("Two samples", max_tokens=5, num_completions=2, cache=False),
        LmPrompt("Where?", max_tokens=20, response_format=schema, cache=False),
    ]
    if provider.name == "openai":
        prompts.append(LmPrompt("With logprobs", max_tokens=5, logprobs=2, cache=False))
    return prompts


@per_provider
def test_lean_path_sends_the_sdks_body_and_answers_exactly_like_it(provider, monkeypatch):
    prompts = _varied_prompts(provider)
    with FakeServer() as srv:
        lean = _answers(provider, srv, prompts)
        assert not sdk_was_used(srv)
        lean_bodies = [r.body for r in srv.requests if r.route == provider.route]
        srv.clear_log()
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
        sdk = _answers(provider, srv, prompts)
        assert sdk_was_used(srv)
        sdk_bodies = [r.body for r in srv.requests if r.route == provider.route]
    # the runner sends in any order, the SDK orders keys its own way: compare as sorted JSON
    assert _canonical(lean_bodies) == _canonical(sdk_bodies)
    fields = ("completion_text", "completion_tokens", "completion_logprobs", "top_token_logprobs",
              "usage", "cost_usd", "finish_reason", "model")
    flat = [(a, b) for x, y in zip(lean, sdk, strict=True)
            for a, b in zip(x if isinstance(x, list) else [x], y if isinstance(y, list) else [y],
                            strict=True)]
    for a, b in flat:
        assert not a.has_errors
        assert {f: getattr(a, f, None) for f in fields} == {f: getattr(b, f, None) for f in fields}


@per_provider
def test_the_key_goes_in_the_sdks_auth_header_and_a_wrong_one_stops_the_run(provider):
    from lmwrapper import ConfigurationError

    prompts = [LmPrompt(f"q {i}", max_tokens=2) for i in range(4)]
    with FakeServer(api_key=provider.key) as srv:
        assert not any(p.has_errors for p in _answers(provider, srv, prompts))
        wrong = provider.key[::-1]
        with pytest.raises(ConfigurationError) as info:
            _answers(provider, srv, [LmPrompt(f"other {i}", max_tokens=2) for i in range(4)],
                     api_key_secret=wrong)
        assert not sdk_was_used(srv)
    assert wrong not in str(info.value) and "check the API key" in str(info.value)


@per_provider
def test_hundreds_in_flight_without_a_thread_each(provider):
    threads_seen: list[int] = []

    def answer(prompt: str) -> str:  # runs on the fake's threads while requests are in flight
        threads_seen.append(sum(t.name.startswith("lmwrapper-live")
                                for t in threading.enumerate()))
        return "ok"

    with FakeServer(latency=0.3) as srv:
        srv.set_answer(answer)
        preds = _answers(provider, srv, [LmPrompt(f"q {i}", max_tokens=2) for i in range(400)],
                         max_concurrency=200)
        peak = srv.peak_in_flight
    assert all(p.completion_text == "ok" for p in preds)
    assert peak >= 50, f"only {peak} requests were ever in flight together"
    assert max(threads_seen) == 0  # no worker thread per request: one event loop


@per_provider
@pytest.mark.parametrize("inject", [
    lambda s: s.rate_limit(times=3, retry_after=0.01),
    lambda s: s.server_error(times=3, status=502),
    lambda s: s.server_error(times=3, status=529),
    lambda s: s.drop_connections(times=3),
    lambda s: s.malformed_responses(times=1),
], ids=["429", "502", "529", "dropped", "malformed"])
def test_faults_are_retried_in_order(provider, inject):
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=5) for i in range(20)]
    with FakeServer() as srv:
        inject(srv)
        preds = _answers(provider, srv, prompts, retry=FAST, max_concurrency=8)
        assert not sdk_was_used(srv) and srv.faults.fired >= 1
    assert [p.prompt.text for p in preds] == [p.text for p in prompts]
    assert not any(p.has_errors for p in preds)


@per_provider
def test_break_sends_nothing_new_and_stores_what_was_in_flight(provider, cache_dir):
    with FakeServer(latency=0.05) as srv:
        lm = provider.make(srv, max_concurrency=8)
        prompts = [LmPrompt(f"question {i}", max_tokens=2) for i in range(300)]
        for got, _ in enumerate(lm.predict_many(prompts), 1):
            if got == 10:
                break
        sent = len(srv.requests)
        answered = sum(r.status == 200 for r in srv.requests)
        assert not sdk_was_used(srv)
    assert 10 <= answered < 300 and sent == answered  # no request was left unanswered
    assert cache_stats(cache_dir)["rows"] == answered


CTRL_C_CHILD = textwrap.dedent("""
    import sys
    from tests.api_providers import PROVIDERS

    provider = next(p for p in PROVIDERS if p.name == sys.argv[1])
    lm = provider.factory()(provider.model, api_key_secret=provider.key, base_url=sys.argv[2],
                            max_concurrency=4, cache_dir=sys.argv[3])
    try:
        for i, pred in enumerate(lm.predict_many([f"question {i}" for i in range(400)])):
            print("got", i, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


@per_provider
def test_ctrl_c_stops_sending_and_keeps_what_arrived(provider, tmp_path):
    with FakeServer(latency=0.05) as srv:
        cache_dir = tmp_path / "c"
        proc = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD, provider.name,
                                 provider.base_url(srv), str(cache_dir)],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            for line in proc.stdout:
                if line.startswith("got 10"):
                    break
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert "interrupted" in out and proc.returncode == 0
        # the process waited for what it had sent: every request's status is recorded by now
        answered = sum(1 for r in srv.requests if r.status == 200)
        assert not sdk_was_used(srv)
    assert 11 <= answered < 400
    assert cache_stats(cache_dir)["rows"] == answered


@per_provider
def test_a_proxy_or_the_opt_out_keeps_the_sdk(provider, monkeypatch):
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with FakeServer() as srv:
        lm = provider.make(srv)
        assert lm.async_sender() is not None
        monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
        assert lm.async_sender() is None  # the SDK honours the proxy; the lean client cannot
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert lm.async_sender() is not None  # the server is exempt from the proxy
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
        assert lm.async_sender() is None
        preds = _answers(provider, srv, [LmPrompt(f"q {i}", max_tokens=2) for i in range(3)])
        assert sdk_was_used(srv) and not any(p.has_errors for p in preds)


# -- the lean client against a server written for its corners ----------------------------------

async def _serve_once_per_connection(reader, writer, replies: list[int]) -> None:
    """Answer ONE request with a chunked body, then close the connection (an idle timeout)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    body = await reader.readexactly(length)
    replies.append(len(body))
    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-ratelimit-x: 1\r\n\r\n"
                 b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    await writer.drain()
    writer.close()


def test_chunked_bodies_and_a_connection_closed_while_idle():
    async def main() -> list:
        replies: list[int] = []
        server = await asyncio.start_server(
            lambda r, w: _serve_once_per_connection(r, w, replies), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        http = AsyncHttp(f"http://127.0.0.1:{port}/v1", {"authorization": "Bearer x"},
                         timeout_s=30)
        first = await http.post("/chat/completions", b"{}")
        # The server closed that connection; the pooled one is stale and a new one is used.
        second = await http.post("/chat/completions", b'{"a": 1}')
        await http.aclose()
        server.close()
        return [first, second, replies]

    first, second, replies = asyncio.run(main())
    assert first[0] == 200 and first[1]["x-ratelimit-x"] == "1" and first[2] == b"hello world"
    assert second[2] == b"hello world" and replies == [2, 8]


def test_a_refused_connection_is_a_transport_error():
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        http = AsyncHttp(f"http://127.0.0.1:{port}", {}, timeout_s=30)
        try:
            await http.post("/x", b"")
        finally:
            await http.aclose()

    with pytest.raises(HttpTransportError, match="cannot connect"):
        asyncio.run(main())


# -- the runner's policy on the event loop, with a plain async `send` (no HTTP) ----------------

class _LoopSender:
    """An AsyncSender around a plain function, as the runner's tests use for the threads."""

    def __init__(self, fn, delay_s: float = 0.0) -> None:
        self.fn, self.delay_s, self.closed, self.sent = fn, delay_s, False, []

    async def send(self, job):
        self.sent.append(job.key)
        await asyncio.sleep(self.delay_s)
        return self.fn(job)

    async def aclose(self) -> None:
        self.closed = True


def _jobs(n: int) -> list:
    from lmwrapper.core.contract import Job

    return [Job(f"k{i}", LmPrompt(f"p{i}"), [0]) for i in range(n)]


def _ok(job) -> list:
    from lmwrapper.structs import LmPrediction

    return [LmPrediction(f"answer {job.prompt.text}", job.prompt)]


def _loop_runner(sender: _LoopSender, **kw):
    from lmwrapper.runners.live import LiveRunner
    from lmwrapper.structs import LmPrediction

    def never(job):
        raise AssertionError("the threaded path was used")

    return LiveRunner(never, async_sender=lambda: sender, **kw, error_prediction=lambda p, e:
                      LmPrediction(None, p, error_message=str(e), error_is_transient=e.transient))


def test_loop_retries_transient_errors_and_answers_permanent_ones_once():
    from lmwrapper import PermanentProviderError, TransientProviderError

    tries: dict[str, int] = {}

    def send(job):
        tries[job.key] = tries.get(job.key, 0) + 1
        if job.key == "k0" and tries["k0"] < 3:
            raise TransientProviderError("flaky", status_code=500)
        if job.key == "k1":
            raise PermanentProviderError("too long", status_code=400)
        return _ok(job)

    out: dict[str, list] = {}
    sender = _LoopSender(send)
    runner = _loop_runner(sender, retry=FAST, max_concurrency=4)
    runner.run(_jobs(30), lambda j, p: out.setdefault(j.key, list(p)), lambda: False)
    assert len(out) == 30 and out["k0"][0].completion_text == "answer p0" and tries["k0"] == 3
    assert out["k1"][0].error_message == "too long" and tries["k1"] == 1
    assert sender.closed and runner.in_flight() == 0


def test_loop_stops_on_a_configuration_error_and_raises_it():
    from lmwrapper import MissingApiKeyError

    def send(job):
        raise MissingApiKeyError("no key")

    sender = _LoopSender(send)
    with pytest.raises(MissingApiKeyError):
        _loop_runner(sender, max_concurrency=4).run(_jobs(50), lambda j, p: None, lambda: False)
    assert sender.closed and len(sender.sent) < 50


def test_loop_stop_sends_nothing_new_and_emits_what_was_in_flight():
    stop = threading.Event()
    emitted: list[str] = []
    in_flight_when_stopped: list[int] = []
    sender = _LoopSender(_ok, delay_s=0.05)
    runner = _loop_runner(sender, max_concurrency=8)

    def emit(job, preds):
        emitted.append(job.key)
        if len(emitted) == 10 and not stop.is_set():
            stop.set()
            in_flight_when_stopped.append(runner.in_flight())

    runner.run(_jobs(500), emit, stop.is_set)
    assert 10 <= len(sender.sent) < 500 and sorted(emitted) == sorted(sender.sent)
    assert 0 <= in_flight_when_stopped[0] <= 8 and runner.in_flight() == 0
