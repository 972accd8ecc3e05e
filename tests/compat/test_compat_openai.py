"""0.18 names on the OpenAI predictor, over real HTTP against the fake server."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings

import pytest
from compat_constants import API_KEY

from lmwrapper import Lmwrapper018Warning
from lmwrapper.openai_wrapper import OpenAiModelNames, get_open_ai_lm
from lmwrapper.structs import LmPrompt


def test_factory_takes_018_keywords(openai_env):
    with pytest.warns(Lmwrapper018Warning, match="organization"):
        lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini, organization="org-123",
                            cache_outputs_default=False)
    assert lm.cache_default is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no organization, no warning
        assert get_open_ai_lm("gpt-4o-mini", cache_outputs_default=True).cache_default is True
    with pytest.raises(TypeError, match="unknown model facts"):
        get_open_ai_lm("gpt-4o-mini", organisation="typo")  # a real typo still fails


def test_cache_outputs_default_false_is_honoured(openai_env):
    lm = get_open_ai_lm("gpt-4o-mini", cache_outputs_default=False)
    p = LmPrompt("What is 2+2?", max_tokens=5, temperature=0)
    lm.predict(p)
    assert not lm.predict(p).was_cached
    assert openai_env.count("chat.completions") == 2


def test_predictor_018_properties(openai_env):
    from lmwrapper.abstract_predictor import LmReasoningStyle

    chat = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    instruct = get_open_ai_lm(OpenAiModelNames.gpt_3_5_turbo_instruct)
    assert chat.is_chat_model and not instruct.is_chat_model
    assert chat.supports_token_operations and not chat.supports_prefilled_chat
    assert chat.reasoning_style == LmReasoningStyle.NEVER_THINK
    assert get_open_ai_lm("o3").reasoning_style == LmReasoningStyle.ALWAYS_THINK
    assert instruct.default_tokens_generated == 16 and chat.default_tokens_generated is None
    assert instruct.tokenize("My name is Spingldorph") == [
        "My", " name", " is", " Sp", "ing", "ld", "orph"]
    assert len(instruct.tokenize("My name is Spingldorph")) == instruct.estimate_tokens_in_prompt(
        LmPrompt("My name is Spingldorph", max_tokens=10))
    toks = chat.tokenize("Hello world")
    assert chat.remove_special_chars_from_tokens(toks) == toks and "".join(toks) == "Hello world"
    assert "gpt-4o-mini" in chat.get_model_cache_key()
    assert chat.get_model_cache_key() != instruct.get_model_cache_key()


def test_configure_global_ratelimit_warns_and_changes_nothing(openai_env):
    lm = get_open_ai_lm("gpt-4o-mini")
    with pytest.warns(Lmwrapper018Warning, match="max_concurrency"):
        assert lm.configure_global_ratelimit(max_count=1, per_seconds=60) is None
    assert lm.predict(LmPrompt("What is 2+2?", max_tokens=5, temperature=0)).completion_text == "4"


def test_remove_prompt_from_cache(openai_env):
    lm = get_open_ai_lm("gpt-4o-mini")
    p = LmPrompt("Capital of France? Answer briefly.", max_tokens=5, temperature=0, cache=True)
    lm.predict(p)
    assert lm.predict(p).was_cached
    assert openai_env.count("chat.completions") == 1
    assert lm.remove_prompt_from_cache(p) is True
    assert lm.remove_prompt_from_cache(p) is False  # nothing left to remove
    assert not lm.predict(p).was_cached
    assert openai_env.count("chat.completions") == 2
    other = get_open_ai_lm("gpt-4.1-nano")
    assert other.remove_prompt_from_cache(p) is False  # another model's entry is its own
    assert lm.predict(p).was_cached


def test_pickle_leaves_the_key_out_and_works_again(srv, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret=API_KEY, base_url=srv.base_url)
    p = LmPrompt("What is 3+4?", max_tokens=5, temperature=0, cache=False)
    assert lm.predict(p).completion_text == "7"  # the client, lock and cache are now live
    data = pickle.dumps(lm)
    assert API_KEY.encode() not in data and b"COMPAT0123" not in data
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)  # the copy looks the key up again
    copy = pickle.loads(data)
    assert copy.predict(p).completion_text == "7"
    assert copy.predict(LmPrompt("What is 3+4?", max_tokens=5, temperature=0)).completion_text == "7"


def test_unpickled_in_another_process(openai_env, tmp_path):
    """What multiprocessing does with a predictor: pickle here, unpickle and predict there."""
    lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    lm.predict(LmPrompt("What is 1+1?", max_tokens=3, temperature=0))
    path = tmp_path / "lm.pkl"
    path.write_bytes(pickle.dumps(lm))
    code = ("import pickle, sys\nfrom lmwrapper.structs import LmPrompt\n"
            "lm = pickle.load(open(sys.argv[1], 'rb'))\n"
            "print(lm.predict(LmPrompt('What is 6*7?', max_tokens=3, temperature=0)).completion_text)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=dict(os.environ), check=False,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


def test_018_secret_holders_work_and_survive_pickling(srv, monkeypatch, tmp_path):
    from lmwrapper.secrets_manager import SecretEnvVar, SecretFile

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LAB_OPENAI_KEY", API_KEY)
    key_file = tmp_path / "oai.txt"
    key_file.write_text(API_KEY + "\n")  # a trailing newline, as editors leave it
    p = LmPrompt("What is 2+3?", max_tokens=3, temperature=0, cache=False)
    for secret in (SecretEnvVar("LAB_OPENAI_KEY"), SecretFile(key_file)):
        lm = get_open_ai_lm("gpt-4o-mini", api_key_secret=secret, base_url=srv.base_url)
        data = pickle.dumps(lm)
        assert API_KEY.encode() not in data
        assert pickle.loads(data).predict(p).completion_text == "5"  # no $OPENAI_API_KEY needed
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SecretFile(tmp_path / "missing.txt")
