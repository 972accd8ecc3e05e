"""The live runner on an event loop over the lean HTTP client: same answers as the SDK path,
hundreds in flight without a thread each, and the HTTP corners the lean client must handle."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lmwrapper.async_http import AsyncHttp, HttpTransportError
from lmwrapper.live_runner import RetryPolicy
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt
from lmwrapper.testing import FakeServer

KEY = "sk-test-async-0123456789abcdef"
FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.05)


def _answers(srv: FakeServer, prompts: list[LmPrompt], **kw) -> list:
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret=KEY, base_url=srv.base_url, **kw)
    return list(lm.predict_many(prompts))


def test_lean_path_answers_exactly_like_the_sdk(monkeypatch, tmp_path):
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=5, logprobs=2, cache=False)
               for i in range(6)]
    with FakeServer() as srv:
        lean = _answers(srv, prompts)
        # The SDK sends headers of its own (retry count): the lean path did not send them.
        assert not any("x-stainless-retry-count" in r.headers for r in srv.requests)
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
        sdk = _answers(srv, prompts)
        assert any("x-stainless-retry-count" in r.headers for r in srv.requests)
    fields = ("completion_text", "completion_tokens", "completion_logprobs", "top_token_logprobs",
              "usage", "cost_usd", "finish_reason")
    for a, b in zip(lean, sdk, strict=True):
        assert not a.has_errors
        assert {f: getattr(a, f, None) for f in fields} == {f: getattr(b, f, None) for f in fields}


def test_hundreds_in_flight_without_a_thread_each():
    threads_seen: list[int] = []

    def answer(prompt: str) -> str:  # runs on the fake's threads while requests are in flight
        threads_seen.append(sum(t.name.startswith("lmwrapper-live")
                                for t in threading.enumerate()))
        return "ok"

    with FakeServer(latency=0.3) as srv:
        srv.set_answer(answer)
        preds = _answers(srv, [LmPrompt(f"q {i}", max_tokens=2) for i in range(400)],
                         max_concurrency=200)
        peak = srv.peak_in_flight
    assert all(p.completion_text == "ok" for p in preds)
    assert peak >= 50, f"only {peak} requests were ever in flight together"
    assert max(threads_seen) == 0  # no worker thread per request: one event loop


@pytest.mark.parametrize("inject", [
    lambda s: s.rate_limit(times=3, retry_after=0.01),
    lambda s: s.server_error(times=3, status=502),
    lambda s: s.drop_connections(times=3),
    lambda s: s.malformed_responses(times=1),
], ids=["429", "502", "dropped", "malformed"])
def test_faults_are_retried_in_order(inject):
    prompts = [LmPrompt(f"What is {i}+1?", max_tokens=5) for i in range(20)]
    with FakeServer() as srv:
        inject(srv)
        preds = _answers(srv, prompts, retry=FAST, max_concurrency=8)
    assert [p.prompt.text for p in preds] == [p.text for p in prompts]
    assert not any(p.has_errors for p in preds)


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
        await AsyncHttp(f"http://127.0.0.1:{port}", {}, timeout_s=30).post("/x", b"")

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
    from lmwrapper.backend import Job

    return [Job(f"k{i}", LmPrompt(f"p{i}"), [0]) for i in range(n)]


def _ok(job) -> list:
    from lmwrapper.structs import LmPrediction

    return [LmPrediction(f"answer {job.prompt.text}", job.prompt)]


def _loop_runner(sender: _LoopSender, **kw):
    from lmwrapper.live_runner import LiveRunner
    from lmwrapper.structs import LmPrediction

    def never(job):
        raise AssertionError("the threaded path was used")

    return LiveRunner(never, async_sender=lambda: sender, **kw, error_prediction=lambda p, e:
                      LmPrediction(None, p, error_message=str(e), error_is_transient=e.transient))


def test_loop_retries_transient_errors_and_answers_permanent_ones_once():
    from lmwrapper.errors import PermanentProviderError, TransientProviderError

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
    from lmwrapper.errors import MissingApiKeyError

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
