"""Hundreds of requests in flight: lmwrapper vs a plain `asyncio.gather` over the provider's
async SDK (`AsyncOpenAI`, `AsyncAnthropic`), for OpenAI and Claude in one run.

    python benchmarks/bench_live.py                          # 16/64/256/1024 in flight, 3 runs
    python benchmarks/bench_live.py --in-flight 256 --runs 1 # one point, quicker
    python benchmarks/bench_live.py --providers anthropic    # Claude only
    python benchmarks/bench_live.py --providers openai openai-responses --in-flight 256 --runs 1
                                           # /v1/chat/completions vs /v1/responses
    python benchmarks/bench_live.py --profile 256 --providers anthropic  # cProfile of lmwrapper
    python benchmarks/bench_live.py --json benchmarks/results/live.json  # ... and keep the figures
    python benchmarks/bench_live.py --before main --in-flight 256  # this checkout vs a revision

The server answers every chat completion and every Claude message after `--latency` (0.5 s)
in parallel: a stand-in for a continuous-batching engine. It runs in ITS OWN PROCESS so that only the client's CPU is
measured. By default it is a tiny asyncio HTTP/1.1 server in this file (`--server asyncio`):
the `FakeServer` (`--server fake`, a thread per connection) costs more CPU per request than
the client under test and, on 2 cores, starves it at 1024 in flight.

For each provider and number in flight C, each client answers `--per-slot` x C prompts (at
least 200):
  * lmwrapper: `get_open_ai_lm(...)` / `get_claude_lm(..., base_url=..., max_concurrency=C)`
    `.predict_many(prompts)`, a fresh cache directory per run, so every answer is also
    written to SQLite;
  * plain: `asyncio.gather` over one `AsyncOpenAI` / `AsyncAnthropic` with a semaphore of C
    (no cache).
Reported: requests/s (median of `--runs`), % of ideal (C / latency), and client CPU per
request (user + system time of this process alone, from `resource.getrusage`).

`--before REV` compares lmwrapper as it is in this checkout with lmwrapper at git revision
REV instead (e.g. before a change of transport), against the same server in one run: each is
measured in a child process of its own (`git archive` of REV's package first on its path),
the two taking turns run by run, so a change in the machine's load hits both alike. Printed:
both medians and their ratio (this checkout / REV).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asap import OPENAI_MODEL, make_lm  # (puts this checkout's lmwrapper first on sys.path)

KEY = "sk-bench-not-a-real-key"


# -- the server (child process) ----------------------------------------------------------------

def _bodies() -> tuple[bytes, bytes, bytes]:
    """(an OpenAI chat completion, a Claude message, an OpenAI Response): the answers the
    server gives."""
    chat = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
            "model": OPENAI_MODEL,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "42", "refusal": None}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13}}
    message = {"id": "msg_bench", "type": "message", "role": "assistant",
               "model": "claude-haiku-4-5", "content": [{"type": "text", "text": "42"}],
               "stop_reason": "end_turn", "stop_sequence": None,
               "usage": {"input_tokens": 12, "output_tokens": 1,
                         "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    response = {"id": "resp_bench", "object": "response", "created_at": 0,
                "status": "completed", "error": None, "incomplete_details": None,
                "model": OPENAI_MODEL, "output": [
                    {"id": "msg_bench", "type": "message", "role": "assistant",
                     "status": "completed", "content": [
                         {"type": "output_text", "text": "42", "annotations": [],
                          "logprobs": []}]}],
                "usage": {"input_tokens": 12, "output_tokens": 1, "total_tokens": 13,
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}
    return (json.dumps(chat).encode(), json.dumps(message).encode(),
            json.dumps(response).encode())


def _response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body)) + body


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float,
                  chat: bytes, message: bytes, response: bytes) -> None:
    try:
        while True:  # keep-alive: one request after another on this connection
            headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            await asyncio.sleep(latency)
            request_line = headers.split(b"\r\n", 1)[0]
            writer.write(message if b"/v1/messages" in request_line else
                         response if b"/v1/responses" in request_line else chat)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass  # the client went away, or the server is shutting down
    finally:
        writer.close()


async def _serve_asyncio(latency: float) -> None:
    chat, message, response = (_response(b) for b in _bodies())
    server = await asyncio.start_server(lambda r, w: _handle(r, w, latency, chat, message,
                                                             response),
                                        "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def serve(kind: str, latency: float) -> None:
    """Child mode: serve until stdin closes."""
    if kind == "asyncio":
        asyncio.run(_serve_asyncio(latency))
        return
    from lmwrapper.testing import FakeServer

    with FakeServer(latency=latency) as srv:
        print(srv.url, flush=True)
        sys.stdin.read()


# -- the clients -------------------------------------------------------------------------------

def _prompts(n: int, provider: str) -> list[Any]:
    from lmwrapper.core.prompt import LmPrompt

    tag = uuid.uuid4().hex[:8]
    out = 16 if provider == "openai-responses" else 8  # /v1/responses: at least 16
    # GPT-5.4 takes temperature only without reasoning; Claude has no effort "none"
    effort = {"reasoning_effort": "none"} if provider.startswith("openai") else {}
    return [LmPrompt(f"bench {tag} question {i}: what is {i}+1?", max_tokens=out, temperature=0,
                     **effort) for i in range(n)]


def run_lmwrapper(provider: str, url: str, n: int, in_flight: int) -> int:
    prompts = _prompts(n, provider)
    with tempfile.TemporaryDirectory() as cache_dir:
        lm = make_lm(provider, url, in_flight, cache_dir)
        preds = list(lm.predict_many(prompts))
    return sum(not p.has_errors for p in preds)


def run_plain(provider: str, url: str, n: int, in_flight: int) -> int:
    """`asyncio.gather` over the provider's async SDK client, C requests at a time."""
    async def main() -> int:
        client, create = _plain_client(provider, url, in_flight)
        gate = asyncio.Semaphore(in_flight)

        async def one(i: int) -> bool:
            async with gate:
                return await create(f"plain question {i}")

        ok = await asyncio.gather(*(one(i) for i in range(n)))
        await client.close()
        return sum(ok)

    return asyncio.run(main())


def _plain_client(provider: str, url: str, in_flight: int) -> tuple[Any, Any]:
    """(the SDK's async client, `create(question) -> answered?`), its connection pool as large
    as the number in flight (the SDKs' default caps it at 1,000)."""
    limits = _httpx().Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    if provider in ("openai", "openai-responses"):
        import openai

        oai = openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0,
                                 http_client=openai.DefaultAsyncHttpxClient(limits=limits,
                                                                            timeout=600))

        async def ask_responses(question: str) -> bool:
            r = await oai.responses.create(model=OPENAI_MODEL, max_output_tokens=16,
                                           temperature=0, reasoning={"effort": "none"},
                                           input=question)
            return bool(r.output)

        if provider == "openai-responses":
            return oai, ask_responses

        async def ask_openai(question: str) -> bool:
            r = await oai.chat.completions.create(
                model=OPENAI_MODEL, max_completion_tokens=8, temperature=0,
                reasoning_effort="none", messages=[{"role": "user", "content": question}])
            return r.choices[0].message.content is not None

        return oai, ask_openai
    import anthropic

    claude = anthropic.AsyncAnthropic(
        api_key=KEY, base_url=url, max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(limits=limits, timeout=600))

    async def ask_claude(question: str) -> bool:
        # this SDK takes sampling parameters only in the body, not as keywords
        r = await claude.messages.create(model="claude-haiku-4-5", max_tokens=8,
                                         messages=[{"role": "user", "content": question}],
                                         extra_body={"temperature": 0})
        return bool(r.content)

    return claude, ask_claude


def _httpx() -> Any:
    try:  # some builds of the SDK ship httpx as "httpx2"
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]
    return httpx


def measure(fn: Callable[[str, str, int, int], int], provider: str, url: str, n: int,
            in_flight: int) -> dict[str, float]:
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    ok = fn(provider, url, n, in_flight)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if ok != n:
        raise SystemExit(f"only {ok} of {n} requests succeeded: the benchmark is not valid")
    return {"rps": n / wall, "cpu_ms": 1000 * cpu / n}


# -- the report --------------------------------------------------------------------------------

def _start_server(kind: str, latency: float) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(latency)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return child, child.stdout.readline().strip()  # type: ignore[union-attr]


def _point(fn: Callable[[str, str, int, int], int], provider: str, url: str, n: int, c: int,
           args: argparse.Namespace) -> dict[str, Any]:
    """One client at one number in flight: its medians over `--runs` and every run."""
    runs = [measure(fn, provider, url, n, c) for _ in range(args.runs)]
    return {"provider": provider, "client": "lmwrapper" if fn is run_lmwrapper else "plain",
            "in_flight": c, "requests": n,
            "rps": statistics.median(r["rps"] for r in runs),
            "cpu_ms": statistics.median(r["cpu_ms"] for r in runs), "runs": runs,
            "load_average_1min": round(os.getloadavg()[0], 2)}


def _cell(point: dict[str, Any], latency: float) -> str:
    rps, c = point["rps"], point["in_flight"]
    return f"{rps:,.0f}/s ({100 * rps * latency / c:.0f} %), {point['cpu_ms']:.2f} ms"


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    """What a reader of the JSON needs to judge the figures: the setup and the machine's load
    (the load average is the best single sign of how shared the cores were)."""
    return {"server": args.server, "latency_s": args.latency, "runs": args.runs,
            "per_slot": args.per_slot, "cpus": os.cpu_count(),
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average_start": list(os.getloadavg()),
            "python": sys.version.split()[0], "commit": _commit()}


def _commit() -> str | None:
    """The checkout measured, so a figure can be traced to its code."""
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short",
                              "HEAD"], check=False, capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return out.stdout.strip() or None


def _write_json(path: str, meta: dict[str, Any], points: list[dict[str, Any]]) -> None:
    meta = {**meta, "load_average_end": list(os.getloadavg())}
    Path(path).write_text(json.dumps({"meta": meta, "points": points}, indent=1) + "\n")
    print(f"wrote {path}")


def bench(args: argparse.Namespace) -> None:
    import anthropic  # noqa: F401  (imported before any clock starts)
    import openai  # noqa: F401

    import lmwrapper.providers.anthropic
    import lmwrapper.providers.openai  # noqa: F401

    meta, points = _meta(args), []
    child, url = _start_server(args.server, args.latency)
    try:
        for provider in args.providers:  # warm-up: imports, first connections
            measure(run_lmwrapper, provider, url, 50, 16)
            measure(run_plain, provider, url, 50, 16)
        print(f"server: {args.server}, latency {args.latency:g} s, medians of {args.runs} runs")
        print("| provider | in flight | lmwrapper | plain asyncio.gather over the async SDK | ideal |")
        print("|---|---|---|---|---|")
        for provider in args.providers:
            for c in args.in_flight:
                n = max(200, args.per_slot * c)
                pair = [_point(fn, provider, url, n, c, args) for fn in (run_lmwrapper, run_plain)]
                points += pair
                print(f"| {provider} | {c} | {_cell(pair[0], args.latency)} | "
                      f"{_cell(pair[1], args.latency)} | {c / args.latency:,.0f}/s |", flush=True)
        if args.json:
            _write_json(args.json, meta, points)
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=30)


# -- this checkout against a git revision (--before) -----------------------------------------

def _extract(rev: str, into: str) -> None:
    """lmwrapper's package at `rev`, unpacked under `into`."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "lmwrapper"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)


def client_child(root: str, provider: str, url: str, n: int, in_flight: int) -> None:
    """Child mode: one measured run of lmwrapper from `root` (after a warm-up); prints it."""
    sys.path.insert(0, root)
    import lmwrapper

    assert lmwrapper.__file__.startswith(root), lmwrapper.__file__
    measure(run_lmwrapper, provider, url, 50, 16)
    print(json.dumps(measure(run_lmwrapper, provider, url, n, in_flight)), flush=True)


def _child_run(root: str, provider: str, url: str, n: int, c: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--client", root, provider, url, str(n),
                          str(c)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> None:
    """This checkout's lmwrapper against `args.before`'s, turn about, medians and ratios."""
    here = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as old:
        _extract(args.before, old)
        child, url = _start_server(args.server, args.latency)
        try:
            print(f"server: {args.server}, latency {args.latency:g} s, medians of {args.runs} "
                  f"runs; before = {args.before}, after = this checkout ({_commit()}, "
                  "with its uncommitted changes)")
            print("| provider | in flight | before | after | after / before: req/s, CPU |")
            print("|---|---|---|---|---|")
            for provider in args.providers:
                for c in args.in_flight:
                    n = max(200, args.per_slot * c)
                    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
                    for _ in range(args.runs):
                        runs["before"].append(_child_run(old, provider, url, n, c))
                        runs["after"].append(_child_run(here, provider, url, n, c))
                    med = {k: {m: statistics.median(r[m] for r in v) for m in ("rps", "cpu_ms")}
                           for k, v in runs.items()}
                    cells = [_cell({**med[k], "in_flight": c}, args.latency)
                             for k in ("before", "after")]
                    print(f"| {provider} | {c} | {cells[0]} | {cells[1]} | "
                          f"{med['after']['rps'] / med['before']['rps']:.2f}, "
                          f"{med['after']['cpu_ms'] / med['before']['cpu_ms']:.2f} |", flush=True)
        finally:
            child.stdin.close()  # type: ignore[union-attr]
            child.wait(timeout=30)


def profile(args: argparse.Namespace, in_flight: int) -> None:
    child, url = _start_server(args.server, args.latency)
    provider = args.providers[0]
    try:
        measure(run_lmwrapper, provider, url, 50, 16)
        prof = cProfile.Profile()
        prof.enable()
        measure(run_lmwrapper, provider, url, max(200, args.per_slot * in_flight), in_flight)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=30)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], float(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        return
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--in-flight", type=int, nargs="+", default=[16, 64, 256, 1024])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--per-slot", type=int, default=4, help="prompts per slot in flight")
    p.add_argument("--latency", type=float, default=0.5)
    p.add_argument("--server", choices=["asyncio", "fake"], default="asyncio")
    p.add_argument("--providers", nargs="+", choices=["openai", "openai-responses", "anthropic"],
                   default=["openai", "anthropic"])
    p.add_argument("--profile", type=int, default=None, metavar="IN_FLIGHT",
                   help="profile lmwrapper at this many in flight instead")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="also write the medians, every run and the setup to PATH "
                        "(benchmarks/plot_live.py draws it)")
    p.add_argument("--before", metavar="REV", default=None,
                   help="compare this checkout's lmwrapper with git revision REV's instead "
                        "of with the plain SDK")
    args = p.parse_args()
    if args.before:
        compare(args)
    elif args.profile:
        profile(args, args.profile)
    else:
        bench(args)


if __name__ == "__main__":
    main()
