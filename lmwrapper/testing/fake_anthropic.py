"""The fake Anthropic endpoints (filled in below)."""

from __future__ import annotations

from lmwrapper.testing.fake_http import Route

ROUTES: list[Route] = []
