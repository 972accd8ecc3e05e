"""Every name a 0.18 script imports or calls exists here, with the 0.18 meaning."""

from __future__ import annotations

import pickle

import pytest

from lmwrapper.structs import LmChatTurn, LmPrediction, LmPrompt, LmUsage


def test_modules_and_names_import_as_in_018():
    import lmwrapper.openai_wrapper as ow
    import lmwrapper.structs
    from lmwrapper.abstract_predictor import LmReasoningStyle
    from lmwrapper.caching import cache_dir, clear_cache_dir, set_cache_dir
    from lmwrapper.internals import ModelInternalsRequest
    from lmwrapper.openai_wrapper.wrapper import (
        OpenAiModelNames,
        OpenAIPredictor,
        get_open_ai_lm,
    )
    from lmwrapper.runtime import Runtime
    from lmwrapper.structs import ChatGptRoles, StopMode

    assert issubclass(ow.OpenAiPredictor, OpenAIPredictor) and get_open_ai_lm is ow.get_open_ai_lm
    assert ModelInternalsRequest is lmwrapper.structs.ModelInternalsRequest
    assert [r.name for r in Runtime] == ["PYTORCH", "ACCELERATE", "ORT_CUDA", "ORT_TENSORRT",
                                         "ORT_CPU", "BETTER_TRANSFORMER"]
    assert {s.value for s in LmReasoningStyle} == {"NEVER_THINK", "CONFIGURABLE_THINKING",
                                                   "ALWAYS_THINK", "UNKNOWN"}
    assert ChatGptRoles.assistant == "assistant" and StopMode.AUTO == "AUTO"
    assert callable(set_cache_dir) and callable(cache_dir) and callable(clear_cache_dir)
    assert OpenAiModelNames.gpt_5_1 == "gpt-5.1"


def test_star_import_gives_018_names():
    ns: dict = {}
    exec("from lmwrapper.openai_wrapper import *", ns)  # noqa: S102
    for name in ("get_open_ai_lm", "OpenAiModelNames", "OpenAIPredictor", "LmPrompt",
                 "LmPrediction", "CompletionWindow", "SecretFile", "SecretEnvVar",
                 "NEVER_THINK", "ALWAYS_THINK"):
        assert name in ns, name
    assert ns["SecretEnvVar"]("OPENAI_API_KEY").name == "OPENAI_API_KEY"
    from lmwrapper.structs import LM_CHAT_DIALOG_COERCIBLE_TYPES

    def as_chat(text: LM_CHAT_DIALOG_COERCIBLE_TYPES) -> LmPrompt:  # 0.18's type hint
        return LmPrompt(text)

    assert as_chat(["hi"]).is_text_a_chat()
    ns2: dict = {}
    exec("from lmwrapper.openai_wrapper.wrapper import *", ns2)  # noqa: S102
    assert ns2["OpenAIPredictor"] is ns["OpenAIPredictor"]


def test_every_018_model_name_exists_with_current_facts():
    from lmwrapper.abstract_predictor import LmReasoningStyle as S
    from lmwrapper.openai_wrapper import OpenAiModelNames as N

    members_018 = [
        "gpt_3_5_turbo", "gpt_3_5_turbo_16k", "gpt_3_5_turbo_instruct", "code_davinci_002",
        "gpt_4", "gpt_4_32k", "gpt_4_turbo", "gpt_4o", "gpt_4o_2024_11_20", "gpt_4o_2024_05_13",
        "gpt_4o_mini", "gpt_4o_mini_2024_07_18", "o1", "o1_preview", "o1_preview_2024_09_12",
        "o1_mini", "o1_mini_2024_09_12", "o3_mini", "o4_mini", "o4_mini_2025_04_16", "o3",
        "gpt_4_1", "gpt_4_1_mini", "gpt_4_1_nano", "gpt_5", "gpt_5_mini", "gpt_5_nano",
        "gpt_5_1",
    ]
    missing = [m for m in members_018 if not hasattr(N, m)]
    assert missing == []
    assert N.gpt_3_5_turbo.token_limit == 16385  # current, not 0.18's 4096
    assert N.gpt_5_1.reasoning_style == S.CONFIGURABLE_THINKING
    assert N.gpt_5.reasoning_style == S.ALWAYS_THINK
    assert N.gpt_4o.reasoning_style == S.NEVER_THINK and N.gpt_4o.is_chat_model
    assert not N.gpt_3_5_turbo_instruct.is_chat_model
    assert N.name_to_info("gpt-4o-mini") is N.gpt_4o_mini
    assert N.name_to_info("no-such-model") is None
    info = N.o4_mini_2025_04_16
    assert pickle.loads(pickle.dumps(info)).facts() == info.facts()


def test_prompt_018_methods():
    p = LmPrompt("hi", max_tokens=3, temperature=0, metadata={"id": 7})
    q = p.replace(max_tokens=9)
    assert q.max_tokens == 9 and q.text == "hi" and q.metadata == {"id": 7}
    with pytest.raises(ValueError, match="max_tokens"):
        p.replace(max_tokens=-1)  # replace validates like a new prompt
    assert p.is_deterministic_sampling()
    assert not LmPrompt("hi", temperature=0.7).is_deterministic_sampling()
    d = p.dict_serialize()
    assert d["text"] == "hi" and d["max_tokens"] == 3 and "metadata" not in d
    assert p.dict_serialize(include_metadata=True)["metadata"] == {"id": 7}
    chat = LmPrompt(["2+2?", "4", "3+3?"]).dict_serialize()
    assert [t["role"] for t in chat["text"]] == ["user", "assistant", "user"]


def test_chat_roles_enum_builds_turns():
    from lmwrapper.structs import ChatGptRoles

    p = LmPrompt([LmChatTurn(ChatGptRoles.system, "be brief"), "hi"])
    assert [t.role for t in p.get_text_as_chat()] == ["system", "user"]
    same = LmPrompt([LmChatTurn("system", "be brief"), "hi"])
    assert p.canonical() == same.canonical()  # the enum does not change the cache key


def _pred(**kw) -> LmPrediction:
    prompt = kw.pop("prompt", LmPrompt("The sky is", max_tokens=3, echo=True))
    base = {"completion_text": " blue today", "prompt": prompt,
            "completion_tokens": (" blue", " today"), "completion_logprobs": (-0.5, -1.0),
            "prompt_tokens": ("The", " sky", " is"), "prompt_logprobs": (None, -2.0, -0.1),
            "usage": LmUsage(3, 2)}
    base.update(kw)
    return LmPrediction(**base)


def test_prediction_token_views():
    pred = _pred()
    assert pred.get_full_tokens() == ("The", " sky", " is", " blue", " today")
    assert pred.full_logprobs == (None, -2.0, -0.1, -0.5, -1.0)
    assert pred.prompt_token_offsets == (0, 3, 7)
    assert pred.completion_token_offsets == (10, 15)
    full = pred.get_full_text()
    assert [full[o:o + 4] for o in pred.completion_token_offsets] == [" blu", " tod"]
    assert pred.usage_output_tokens == 2
    assert _pred(usage=LmUsage(3, 40)).usage_output_tokens == 40  # billed, reasoning included


def test_prediction_views_say_what_to_set_when_unavailable():
    pred = _pred(prompt=LmPrompt("The sky is", max_tokens=3), prompt_tokens=None,
                 prompt_logprobs=None)
    with pytest.raises(ValueError, match="echo=True"):
        _ = pred.full_logprobs
    with pytest.raises(ValueError, match="echo=True"):
        pred.get_full_tokens()
    with pytest.raises(ValueError, match="echo=True"):
        _ = pred.prompt_token_offsets
    bos = _pred(prompt_tokens=("<s>", "The", " sky", " is"))
    with pytest.raises(ValueError, match="do not spell"):
        _ = bos.prompt_token_offsets


def test_make_reply_prompt_continues_the_chat():
    pred = LmPrediction("4", LmPrompt(["2+2?"], max_tokens=5, temperature=0, metadata="m"))
    reply = pred.make_reply_prompt("And 3+3?", max_tokens=7)
    assert [(t.role, t.content) for t in reply.get_text_as_chat()] == [
        ("user", "2+2?"), ("assistant", "4"), ("user", "And 3+3?")]
    assert reply.max_tokens == 7 and reply.temperature == 0 and reply.metadata == "m"
    from_string = LmPrediction("Paris", LmPrompt("Capital of France?")).make_reply_prompt(
        ["Germany?"])
    assert [t.role for t in from_string.get_text_as_chat()] == ["user", "assistant", "user"]


def test_prediction_dict_serialize_and_mark_as_cached():
    pred = _pred()
    d = pred.dict_serialize()
    assert d["completion_text"] == " blue today" and d["was_cached"] is False
    assert d["completion_tokens"] == [" blue", " today"] and d["full_logprobs"][0] is None
    assert d["prompt"]["text"] == "The sky is"
    no_echo = _pred(prompt=LmPrompt("x", max_tokens=3), prompt_tokens=None, prompt_logprobs=None)
    assert "full_logprobs" not in no_echo.dict_serialize()  # as 0.18: left out, not raised
    assert "metad" in pred.dict_serialize(include_metad=True)
    cached = pred.mark_as_cached()
    assert cached.was_cached and not pred.was_cached  # predictions are frozen: a copy
    assert cached.completion_text == pred.completion_text


def test_docs_page_runs_as_written(monkeypatch):
    from docs_blocks import python_blocks

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # nothing is sent: no key needed
    blocks = python_blocks("coming-from-0.18.md")
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/coming-from-0.18.md", "exec"), {})  # noqa: S102


def test_mock_predictor_for_unit_tests(cache_dir):
    from lmwrapper.abstract_predictor import get_mock_predictor

    lm = get_mock_predictor()
    assert lm.predict("hello").completion_text == "hello" and not lm.is_chat_model
    assert [p.completion_text for p in lm.predict_many(["a", "b"])] == ["a", "b"]
    fixed = get_mock_predictor(lambda p: LmPrediction("fixed", p), is_chat_model=True)
    assert fixed.is_chat_model and fixed.predict(LmPrompt(["hi"])).completion_text == "fixed"
    assert not cache_dir.exists()  # nothing cached, as in 0.18
    # 0.18's alone, so compat018's (the engine does not know it); the 0.18 path still finds it
    import lmwrapper.abstract_predictor as ap

    assert type(lm).__module__ == "lmwrapper.compat018.mock" and ap.MockPredictor is type(lm)
