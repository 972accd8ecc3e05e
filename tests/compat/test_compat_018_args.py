"""0.18's arguments that were refused before: `LmPrompt(stop_mode=, top_p=None)`, 0.18's
positional order (LmPrompt, get_open_ai_lm, get_huggingface_lm), iterating OpenAiModelNames,
and 0.18's prediction/model-info constructors. Through the public API, against the fake
server and a tiny local model."""

from __future__ import annotations

import warnings

import pytest
from compat_constants import API_KEY

from lmwrapper import Lmwrapper018Warning
from lmwrapper.abstract_predictor import LmPredictor, LmReasoningStyle, get_mock_predictor
from lmwrapper.openai_wrapper import OpenAiModelInfo, OpenAiModelNames, get_open_ai_lm
from lmwrapper.structs import LmPrediction, LmPrompt, StopMode


def _bodies(srv):
    return [r.body for r in srv.requests if r.route == "chat.completions"]


def test_018_positional_prompt_with_stop_mode_and_top_p_none_is_the_default_prompt(openai_env):
    lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    # 0.18's order: text, max_tokens, stop, stop_mode, logprobs, temperature, top_p
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # AUTO and top_p=None mean the defaults: no warning
        as_018 = LmPrompt("What is 2+6?", 10, None, StopMode.AUTO, 1, 0.0, None)
    assert (as_018.max_tokens, as_018.logprobs, as_018.temperature) == (10, 1, 0.0)
    assert as_018.top_p == 1.0 and as_018.stop_mode == StopMode.AUTO
    assert lm.predict(as_018).completion_text == "8"
    assert "top_p" not in _bodies(openai_env)[0]  # 0.18: top_p=None is not sent
    # same cache key as the prompt written without them: served from the cache, no request
    again = lm.predict(LmPrompt("What is 2+6?", max_tokens=10, temperature=0))
    assert again.was_cached and openai_env.count("chat.completions") == 1


def test_stop_modes(openai_env):
    lm = get_open_ai_lm(OpenAiModelNames.gpt_3_5_turbo_instruct)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what every backend does here: no warning
        p = LmPrompt("one, two, three, four", max_tokens=20, stop=[","], temperature=0,
                     stop_mode="WILL_NOT_CONTAIN")
    assert p.stop_mode == StopMode.WILL_NOT_CONTAIN
    assert p.replace(max_tokens=5).stop_mode == StopMode.WILL_NOT_CONTAIN
    assert p.canonical() == p.replace(stop_mode=StopMode.AUTO).canonical()
    assert "," not in lm.predict(p).completion_text
    with pytest.warns(Lmwrapper018Warning, match="never leaves a stop string"):
        LmPrompt("x", stop_mode=StopMode.ONLY_STOP_GENERATING)
    with pytest.raises(ValueError, match="stop_mode must be one of"):
        LmPrompt("x", stop_mode="NEVER")


def test_max_completion_tokens_is_max_tokens():
    assert LmPrompt("x", max_completion_tokens=7) == LmPrompt("x", max_tokens=7)
    with pytest.raises(ValueError, match="disagree"):
        LmPrompt("x", max_tokens=5, max_completion_tokens=7)


def test_generic_subscripts_and_018_prediction_constructor():
    prompt = LmPrompt[dict]("2+2?", max_tokens=3, metadata={"id": 1})

    def answer(p: LmPrompt[dict]) -> LmPrediction[dict]:
        return LmPrediction(" 4", p, {"raw": "response"})  # 0.18: (text, prompt, metad)

    pred = get_mock_predictor(answer).predict(prompt)
    assert not pred.has_errors and pred.completion_text == " 4"
    assert answer(prompt).metad == {"raw": "response"} and pred.prompt.metadata == {"id": 1}


def test_logprobs_dict(openai_env):
    lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini)
    pred = lm.predict(LmPrompt("What is 2+6?", max_tokens=5, temperature=0, logprobs=2))
    assert pred.logprobs_dict == [{"repr": repr(t), "probability": lp} for t, lp in
                                  zip(pred.completion_tokens, pred.completion_logprobs)]
    assert pred.logprobs_dict
    no_logprobs = lm.predict(LmPrompt("What is 2+6?", max_tokens=5, temperature=0, logprobs=0))
    with pytest.raises(ValueError, match="logprobs=1"):
        no_logprobs.logprobs_dict  # noqa: B018


def test_get_open_ai_lm_takes_018_positional_arguments(openai_env):
    # 0.18: (model_name, api_key_secret, organization, cache_outputs_default, retry_on_rate_limit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini, None, None, False, False)
    assert lm.cache_default is False and lm.retry.retry_rate_limits is False
    with pytest.warns(Lmwrapper018Warning, match="organization"):
        get_open_ai_lm("gpt-4o-mini", None, "org-123", True, True)
    # 0.18's default, gpt-4.1-mini, shuts down on 2027-01-14: the default is a current model
    assert get_open_ai_lm().model_name() == "gpt-5.4-mini"
    with pytest.raises(TypeError):
        get_open_ai_lm("gpt-4o-mini", None, None, True, True, "http://x")  # no 6th positional


def test_iterating_model_names_and_018_model_info(openai_env):
    names = list(OpenAiModelNames)
    assert names == OpenAiModelNames.all() and OpenAiModelNames.gpt_5_1 in names
    assert "gpt-4o-mini" in OpenAiModelNames and "gpt-4o-mni" not in OpenAiModelNames
    assert all(m.token_limit > 0 for m in OpenAiModelNames)
    # 0.18: OpenAiModelInfo(name, is_chat_model, reasoning_style, token_limit)
    custom = OpenAiModelInfo("gpt-4o-mini", True, LmReasoningStyle.NEVER_THINK, 8192)
    assert (custom.kind, custom.token_limit, custom.is_chat_model) == ("chat", 8192, True)
    lm = get_open_ai_lm(custom, api_key_secret=API_KEY)
    assert lm.token_limit == 8192 and lm.predict("What is 2+6?").completion_text == "8"
    thinks = OpenAiModelInfo("o9", True, LmReasoningStyle.ALWAYS_THINK, 1000)
    assert thinks.reasoning_style == LmReasoningStyle.ALWAYS_THINK
    assert OpenAiModelInfo("old", False, LmReasoningStyle.NEVER_THINK, 2049).kind == "instruct"


def test_get_huggingface_lm_takes_018_positional_arguments(tiny_dir):
    import torch

    from lmwrapper.huggingface_wrapper import get_huggingface_lm
    from lmwrapper.runtime import Runtime

    # 0.18: (model, runtime, precision, trust_remote_code, allow_patch_model_forward,
    #        prompt_trimmer, device, use_chat_mode)
    lm = get_huggingface_lm(str(tiny_dir), Runtime.PYTORCH, torch.float16, False, True, None,
                            torch.device("cpu"), False)
    assert lm.model_identity()["dtype"] == "float16" and not lm.is_chat_model
    with pytest.warns(Lmwrapper018Warning, match="allow_patch_model_forward"):
        get_huggingface_lm(str(tiny_dir), Runtime.PYTORCH, None, False, False, device="cpu")


class Shout(LmPredictor):
    """A model written for 0.18: `get_model_cache_key`, `is_chat_model`, `_predict_maybe_cached`."""

    def __init__(self, version: str, cache_dir: str) -> None:
        super().__init__(True, cache_dir)
        self.version, self.calls = version, 0

    def get_model_cache_key(self) -> str:
        return f"shout-{self.version}"

    @property
    def is_chat_model(self) -> bool:
        return False

    def _predict_maybe_cached(self, prompt):
        self.calls += 1
        preds = [LmPrediction(f"{prompt.text.upper()}{i}", prompt, None)
                 for i in range(prompt.num_completions or 1)]
        return preds if prompt.num_completions is not None else preds[0]


def test_018_predictor_subclass_runs_through_the_engine(tmp_path):
    lm = Shout("v1", str(tmp_path))
    assert lm.predict("abc").completion_text == "ABC0"
    assert lm.predict("abc").was_cached and lm.calls == 1
    samples = lm.predict(LmPrompt("hi", max_tokens=3, num_completions=3))
    assert [p.completion_text for p in samples] == ["HI0", "HI1", "HI2"] and lm.calls == 2
    other = Shout("v2", str(tmp_path))  # another cache key: nothing shared
    assert not other.predict("abc").was_cached
    assert lm.model_identity() != other.model_identity()


def test_openai_predictor_built_as_in_018_from_a_client(srv, monkeypatch):
    import openai

    from lmwrapper.openai_wrapper.wrapper import OpenAIPredictor

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    client = openai.OpenAI(api_key=API_KEY, base_url=srv.base_url)
    lm = OpenAIPredictor(api=client, engine_name=OpenAiModelNames.gpt_4o_mini)
    assert isinstance(lm, OpenAIPredictor) and lm.is_chat_model
    assert lm.predict(LmPrompt("What is 2+6?", max_tokens=5, temperature=0)).completion_text == "8"
    assert srv.count("chat.completions") == 1
    # a model the registry does not know, described as 0.18 required (served: the fake
    # 404s names no source lists, as the real API does)
    srv.extra_models.add("my-finetune")
    served = OpenAIPredictor(client, "my-finetune", chat_mode=False,
                             reasoning_style=LmReasoningStyle.NEVER_THINK,
                             cache_outputs_default=False)
    assert not served.is_chat_model and served.cache_default is False
    assert served.predict(LmPrompt("one, two,", max_tokens=3)).completion_text is not None
    assert srv.count("completions") == 1
    assert isinstance(get_open_ai_lm("gpt-4o-mini", api_key_secret=API_KEY), OpenAIPredictor)
