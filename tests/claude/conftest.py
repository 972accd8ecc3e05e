"""Fixtures for the Claude backend: the loopback fake server and models pointed at it
(shared with the OpenAI tests through tests/api_providers.py)."""

from __future__ import annotations

from tests.api_providers import ANTHROPIC, fixtures

API_KEY = ANTHROPIC.key
srv, no_key_anywhere, make_lm = fixtures(ANTHROPIC)


def sent_bodies(srv, route="messages"):
    return [r.body for r in srv.requests if r.route == route]
