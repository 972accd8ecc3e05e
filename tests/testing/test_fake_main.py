"""`python -m lmwrapper.testing` serves until interrupted and prints its base URLs."""

import os
import signal
import subprocess
import sys

import openai


def test_standalone_server_prints_urls_and_answers():
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmwrapper.testing", "--latency", "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first, second = proc.stdout.readline().strip(), proc.stdout.readline().strip()
        assert first.startswith("OPENAI_BASE_URL=http://127.0.0.1:") and first.endswith("/v1")
        assert second.startswith("ANTHROPIC_BASE_URL=http://127.0.0.1:")
        client = openai.OpenAI(base_url=first.split("=", 1)[1], api_key="sk", max_retries=0,
                               timeout=10)
        r = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "What is 6*7?"}])
        assert r.choices[0].message.content == "42"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_a_client_gone_before_its_answer_prints_no_traceback(capsys):
    """A client killed mid-request (a SIGKILLed `lmwrapper run`) makes the answer's write fail
    with a broken pipe or a reset: the server says nothing, and still reports other errors."""
    from lmwrapper.testing import FakeServer

    with FakeServer() as srv:
        httpd = srv._httpd
        assert httpd is not None
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise gone
            except OSError:
                httpd.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a bug in the fake")
        except ValueError:
            httpd.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a bug in the fake" in capsys.readouterr().err


def test_the_default_context_limit_is_each_models_own_window():
    """Without `--context-limit` a request may use its model's window as lmwrapper's model
    facts give it (Claude Haiku 4.5: 200,000; gpt-3.5-turbo-instruct: 4,096), not a flat 128,000; the flag
    still overrides it for every model."""
    import anthropic

    from lmwrapper.testing.__main__ import build, parse_args

    prompt = "word " * 140_000  # the fake's tokenizer: a token a word
    with build(parse_args(["--latency", "0"])) as srv:
        assert srv.context_limit_for("claude-haiku-4-5", "anthropic") == 200_000
        assert srv.context_limit_for("gpt-3.5-turbo-instruct", "openai") == 4_096
        assert srv.context_limit_for("gpt-4.1-mini", "openai") == 1_000_000
        client = anthropic.Anthropic(base_url=srv.url, api_key="sk", max_retries=0,
                                     timeout=30)
        r = client.messages.create(model="claude-haiku-4-5", max_tokens=5,
                                   messages=[{"role": "user", "content": prompt}])
        assert r.usage.input_tokens > 128_000
        gpt = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="sk", max_retries=0, timeout=30)
        try:
            gpt.completions.create(model="gpt-3.5-turbo-instruct", max_tokens=5,
                                   prompt="w " * 5_000)
            raise AssertionError("a 5,000-token prompt passed a window of 4,096")
        except openai.BadRequestError as e:
            assert "maximum context length is 4096 tokens" in str(e)
    with build(parse_args(["--latency", "0", "--context-limit", "100"])) as srv:
        assert srv.context_limit_for("claude-haiku-4-5", "anthropic") == 100
        client = anthropic.Anthropic(base_url=srv.url, api_key="sk", max_retries=0, timeout=30)
        try:
            client.messages.create(model="claude-haiku-4-5", max_tokens=5,
                                   messages=[{"role": "user", "content": "word " * 100}])
            raise AssertionError("a 200-token prompt passed a 100-token limit")
        except anthropic.BadRequestError as e:
            assert "prompt is too long" in str(e)
