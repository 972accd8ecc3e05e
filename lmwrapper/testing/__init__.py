"""Test doubles for lmwrapper and for pipelines built on it (no network needed).

`ScriptedLm` is a fake model; `FakeServer` is a loopback fake of the OpenAI and Anthropic
HTTP APIs that the official SDKs talk to through `base_url`, with fault injection.
"""

from lmwrapper.testing.fake_http import ApiError as FakeApiError
from lmwrapper.testing.fake_server import FakeServer
from lmwrapper.testing.fake_text import AnswerRequest
from lmwrapper.testing.scripted import ScriptedLm

__all__ = ["AnswerRequest", "FakeApiError", "FakeServer", "ScriptedLm"]
