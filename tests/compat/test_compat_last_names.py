"""The last 0.18 names: `LmChatTurn(function_call=)`, `tokenize_ids`, instantiation hooks,
`lmwrapper.utils`, `prompt.stop_mode` (at run time and under mypy). Local-model names are in
test_compat_hf_names.py."""

from __future__ import annotations

import io
import textwrap

import pytest
from compat_constants import API_KEY

from lmwrapper import Lmwrapper018Warning
from lmwrapper.openai_wrapper import OpenAiModelNames, get_open_ai_lm
from lmwrapper.structs import LmChatTurn, LmPrompt, StopMode


def test_function_call_turn_is_kept_warned_and_neither_sent_nor_keyed(openai_env):
    with pytest.warns(Lmwrapper018Warning, match="function_call.*not sent"):
        call = LmChatTurn("assistant", None, function_call='get_capital("France")')
    assert call.function_call == 'get_capital("France")' and call.content == ""
    with_call = LmPrompt(["Capital of France?", call, "And 2+2?"], max_tokens=5, temperature=0)
    plain = LmPrompt(["Capital of France?", "", "And 2+2?"], max_tokens=5, temperature=0)
    assert with_call.canonical() == plain.canonical()  # what is sent is what is keyed
    lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini, cache_default=False)
    assert lm.predict(with_call).completion_text == "4"
    sent = openai_env.requests[-1].body["messages"]
    assert [set(m) for m in sent] == [{"role", "content"}] * 3
    with pytest.warns(Lmwrapper018Warning):  # 0.18's dict form, as `LmChatTurn(**turn)` took it
        turn = LmPrompt([{"role": "assistant", "content": "", "function_call": "f()"}]).text[0]
    assert turn.function_call == "f()"


def test_tokenize_ids_are_the_tiktoken_ids_of_tokenize(openai_env):
    from lmwrapper.providers.openai.tokens import get_encoding

    lm = get_open_ai_lm(OpenAiModelNames.gpt_3_5_turbo_instruct)
    ids = lm.tokenize_ids("My name is Spingldorph")
    assert len(ids) == 7 and all(isinstance(i, int) for i in ids)  # 0.18 README's count
    encoding = get_encoding(lm.model.encoding)
    assert [encoding.decode([i]) for i in ids] == lm.tokenize("My name is Spingldorph")
    assert encoding.decode(lm.tokenize_ids("<|endoftext|> is text")) == "<|endoftext|> is text"


def test_instantiation_hooks_run_for_every_new_openai_predictor(openai_env):
    from lmwrapper.openai_wrapper.wrapper import OpenAiInstantiationHook, OpenAIPredictor

    seen: list[tuple] = []

    class OnlyMiniModels(OpenAiInstantiationHook):
        def before_init(self, new_predictor, api, engine_name, chat_mode,
                        cache_outputs_default, retry_on_rate_limit):
            seen.append((engine_name, chat_mode, cache_outputs_default, retry_on_rate_limit,
                         api.api_key, api.organization))
            if "mini" not in engine_name:
                raise ValueError(f"this key is only for mini models, not {engine_name}")

    hook = OnlyMiniModels()
    OpenAIPredictor.add_instantiation_hook(hook)
    try:
        lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini, cache_outputs_default=False,
                            retry_on_rate_limit=False)
        assert seen == [("gpt-4o-mini", True, False, False, API_KEY, None)]
        assert lm.predict(LmPrompt("What is 2+2?", max_tokens=5, temperature=0)
                          ).completion_text == "4"
        with pytest.raises(ValueError, match="only for mini models, not gpt-4o"):
            get_open_ai_lm(OpenAiModelNames.gpt_4o)
    finally:
        OpenAIPredictor._instantiation_hooks.remove(hook)
    get_open_ai_lm(OpenAiModelNames.gpt_4o)  # a removed hook no longer runs
    assert len(seen) == 2


def test_utils_module_has_018_helpers():
    from lmwrapper.utils import StrEnum, flatten_dict, retry_func_on_exception

    class Color(StrEnum):
        RED = "red"

    assert Color.RED == "red" and str(Color.RED) == "red"
    assert flatten_dict({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a__b": 1, "a__c__d": 2, "e": 3}
    with pytest.raises(ValueError, match="separator '__' is not allowed"):
        flatten_dict({"a__b": 1})

    calls = []
    out = io.StringIO()

    @retry_func_on_exception(KeyError, max_retries=3, linear_backoff_factor=0,
                             exponential_backoff_factor=0, print_output_stream=out)
    def flaky(fail_times: int) -> str:
        calls.append(1)
        if len(calls) <= fail_times:
            raise KeyError("not yet")
        return "done"

    assert flaky(2) == "done" and len(calls) == 3
    assert out.getvalue().count("KeyError occurred. Retrying in") == 2
    calls.clear()
    with pytest.raises(KeyError):
        flaky(5)  # the third failure is raised
    assert len(calls) == 3


def test_stop_mode_reads_back_type_checks_and_leaves_the_key_alone(tmp_path):
    """0.18 code reads `prompt.stop_mode`: it works, mypy accepts it, and it is not keyed."""
    auto = LmPrompt("Q", max_tokens=3)
    assert auto.stop_mode is StopMode.AUTO
    with pytest.warns(Lmwrapper018Warning):
        only = LmPrompt("Q", max_tokens=3, stop_mode=StopMode.ONLY_STOP_GENERATING)
    assert only.stop_mode is StopMode.ONLY_STOP_GENERATING
    assert only.canonical() == auto.canonical() and only == auto
    assert LmPrompt("Q", stop_mode="WILL_NOT_CONTAIN").replace(text="R").stop_mode == (
        StopMode.WILL_NOT_CONTAIN)
    from mypy import api

    user_code = tmp_path / "user_018.py"
    user_code.write_text(textwrap.dedent("""
        from lmwrapper.structs import LmPrompt, StopMode

        def mode_of(prompt: LmPrompt) -> StopMode:
            return prompt.stop_mode

        reveal_type(LmPrompt("q").stop_mode)
    """))
    out, err, status = api.run([str(user_code), "--follow-imports=silent",
                                "--cache-dir", str(tmp_path / "mypy_cache")])
    assert status == 0, out + err
    assert 'Revealed type is "lmwrapper.core.prompt.StopMode"' in out, out
