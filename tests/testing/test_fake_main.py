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
