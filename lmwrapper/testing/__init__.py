"""Test doubles for lmwrapper and for pipelines built on it (no network needed).

`ScriptedLm` is a fake model (a front door over its `ScriptedBackend`); `FakeServer` is a
loopback fake of the OpenAI and Anthropic HTTP APIs that the official SDKs talk to through
`base_url`, with fault injection.
"""

from lmwrapper.testing.http import ApiError as FakeApiError
from lmwrapper.testing.scripted import ScriptedBackend, ScriptedLm
from lmwrapper.testing.server import FakeServer
from lmwrapper.testing.text import AnswerRequest

__all__ = ["AnswerRequest", "FakeApiError", "FakeServer", "ScriptedBackend", "ScriptedLm"]
