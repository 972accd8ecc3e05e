"""The batch providers the batch tests run on, from the registry and each provider's fake:
a new provider with a batch API is tested here without an edit."""

from __future__ import annotations

from typing import Any

from lmwrapper.providers.registry import PROVIDERS, provider_named
from lmwrapper.testing.server import APIS

# every registered provider with a batch API: crash and fault tests run once per entry
BATCH_PROVIDERS = [name for name, p in PROVIDERS.items() if p.spec().batch]
KEY = "sk-test-SECRET0123456789abcdef"  # the fake takes any non-empty key


def batch_lm(server_url: str, provider: str, **kw: Any) -> Any:
    """The model `provider`'s fake serves for tests (its `API.test_model`), built by the
    registry (as `lmwrapper batch` rebuilds it) and pointed at the fake at `server_url`."""
    api = APIS[provider]
    assert api.test_model, f"the fake of {provider!r} names no test_model"
    kw.setdefault("api_key_secret", KEY)
    kw.setdefault("base_url", server_url + api.base_path)
    return provider_named(provider).make(api.test_model, **kw)
