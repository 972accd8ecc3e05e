"""`lmwrapper.caching`: 0.18's cache-directory functions over the SQLite cache."""

from __future__ import annotations

import pytest

from lmwrapper import Lmwrapper018Warning, caching, sqlcache
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt


@pytest.fixture
def restore_cache_dir():
    yield
    sqlcache.set_cache_dir(None)


def test_set_cache_dir_moves_the_cache(openai_env, tmp_path, restore_cache_dir):
    target = tmp_path / "my-cache"
    caching.set_cache_dir(target)
    assert caching.cache_dir() == target and target.is_dir()
    lm = get_open_ai_lm("gpt-4o-mini")
    p = LmPrompt("What is 2+5?", max_tokens=3, temperature=0)
    lm.predict(p)
    assert (target / sqlcache.CACHE_FILE_NAME).exists()
    assert lm.predict(p).was_cached
    assert caching.clear_cache_dir() >= 1
    assert target.is_dir()  # the folder stays; its predictions are gone
    assert not lm.predict(p).was_cached
    assert openai_env.count("chat.completions") == 2


def test_clear_cache_dir_without_a_cache_is_a_no_op(tmp_path, restore_cache_dir):
    caching.set_cache_dir(tmp_path / "empty")
    assert caching.clear_cache_dir() == 0
    assert not (tmp_path / "empty" / sqlcache.CACHE_FILE_NAME).exists()


def test_set_cache_dir_refuses_a_source_folder(tmp_path, restore_cache_dir):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    with pytest.raises(ValueError, match="source folder"):
        caching.set_cache_dir(tmp_path)
    with pytest.warns(Lmwrapper018Warning, match="size_limit"):
        caching.set_cache_dir(tmp_path / "c", size_limit=10**9)
