"""Fixtures for the OpenAI backend: a loopback fake server and models pointed at it
(shared with the Claude tests through tests/api_providers.py)."""

from __future__ import annotations

from tests.api_providers import OPENAI, fixtures

API_KEY = OPENAI.key
srv, no_key_anywhere, make_lm = fixtures(OPENAI)
