"""An API key with a line break never reaches a header (issue 17, row 2).

Before: `Bearer sk-…\\r\\nX-Injected: 1` arrived as two headers at the server (an injection),
and a key read with `open().read()` (a trailing newline) gave a malformed request retried as
a transient error. Now the first is refused before anything is sent, the second stripped.
"""

import pytest

from lmwrapper import ConfigurationError
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.testing import FakeServer

HTTP_PATHS = ["lean", "sdk"]


def _lm(srv, key, tmp_path):
    return get_open_ai_lm("gpt-5.4-mini", api_key_secret=key, base_url=srv.base_url,
                          cache_dir=str(tmp_path / "c"))


@pytest.mark.parametrize("http", HTTP_PATHS)
@pytest.mark.parametrize("key", ["sk-test-0123456789\r\nX-Injected: 1",
                                 "sk-test-0123\n456789", "sk-test-0123456789\x00"])
def test_a_key_with_a_control_character_is_refused_before_sending(tmp_path, monkeypatch, http,
                                                                   key):
    if http == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    with FakeServer() as srv:
        with pytest.raises(ConfigurationError, match="control character") as e:
            list(_lm(srv, key, tmp_path).predict_many(["What is 2+2?", "What is 3+3?"]))
        assert "sk-test" not in str(e.value)  # the key is never shown
        assert srv.counts == {}  # billed 0, nothing sent


@pytest.mark.parametrize("http", HTTP_PATHS)
def test_a_trailing_newline_is_stripped_with_a_warning(tmp_path, monkeypatch, http):
    if http == "sdk":
        monkeypatch.setenv("LMWRAPPER_LIVE_HTTP", "sdk")
    with FakeServer(api_key="sk-test-0123456789") as srv:
        with pytest.warns(UserWarning, match="stripped"):
            got = list(_lm(srv, "sk-test-0123456789\n", tmp_path).predict_many(
                ["What is 2+2?", "What is 3+3?"]))
        assert not any(p.has_errors for p in got)
        assert srv.count("chat.completions") == 2  # each billed once, no retry


def test_key_from_environment_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test\r\nX-Injected: 1")
    with FakeServer() as srv:
        lm = get_open_ai_lm("gpt-5.4-mini", base_url=srv.base_url, cache_dir=str(tmp_path / "c"))
        with pytest.raises(ConfigurationError, match=r"\$OPENAI_API_KEY"):
            lm.predict("What is 2+2?")
        assert srv.counts == {}
