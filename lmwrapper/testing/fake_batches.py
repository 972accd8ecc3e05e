"""The fake OpenAI files and batches endpoints (filled in below)."""

from __future__ import annotations

from lmwrapper.testing.fake_http import Route

ROUTES: list[Route] = []
