"""The front door (`LmPredictor`) holds a backend (`LmBackend`): a backend written on its own
runs through it like any model, and what the front door does not have is its backend's."""

from __future__ import annotations

import pickle

import pytest

from lmwrapper import LmPredictor
from lmwrapper.engine.backend import LmBackend
from lmwrapper.structs import LmPrediction, LmPrompt
from lmwrapper.testing import ScriptedBackend, ScriptedLm


class Upper(LmBackend):
    """The smallest backend: an identity and one way of answering."""

    provider = "upper"

    def __init__(self) -> None:
        self.calls = 0

    def model_identity(self):
        return {"provider": self.provider, "model": "upper-1"}

    def _predict_samples(self, prompt, n):
        self.calls += 1
        return [LmPrediction(prompt.text.upper(), prompt) for _ in range(n)]

    def estimate_tokens_in_prompt(self, prompt):
        return len(prompt.text.split())


def test_a_backend_written_on_its_own_is_held_and_cached(tmp_path):
    backend = Upper()
    lm = LmPredictor(cache_dir=str(tmp_path), backend=backend)
    assert lm.backend is backend and not isinstance(lm, LmBackend)
    assert lm.predict("abc").completion_text == "ABC"
    again = LmPredictor(cache_dir=str(tmp_path), backend=Upper())
    assert again.predict("abc").was_cached and again.backend.calls == 0
    # what the front door does not have is its backend's
    assert lm.model_name() == "upper-1" and lm.estimate_tokens_in_prompt(LmPrompt("a b")) == 2
    assert lm.calls == 1
    lm.calls = 7  # written to the front door: the backend's, which reads it
    assert backend.calls == 7 and "calls" not in vars(lm)
    with pytest.raises(AttributeError, match="nothing_here"):
        lm.nothing_here  # noqa: B018
    copy = pickle.loads(pickle.dumps(lm))
    assert copy.predict("abc").was_cached


def test_the_front_door_defines_nothing_a_backend_does():
    front = {n for n in vars(LmPredictor) if not n.startswith("_")}
    assert not front & {n for n in dir(LmBackend) if not n.startswith("_")}
    assert {"predict", "predict_many", "cache", "backend"} <= front


def test_the_scripted_model_is_a_front_door_over_its_own_backend(tmp_path):
    lm = ScriptedLm(cache_dir=str(tmp_path), cache_default=False)
    assert type(lm.backend) is ScriptedBackend and not isinstance(lm, LmBackend)
    assert lm.backend.cache_default is False
    lm.enqueue("four")  # the backend's, as are call_log and delay
    assert lm.predict("2+2?").completion_text == "four" and lm.call_log == ["2+2?"]
    lm.delay = 0.0
    assert "delay" not in vars(lm)


def test_a_front_door_subclass_overriding_the_backend_is_refused():
    with pytest.raises(TypeError, match="define them on a subclass of ScriptedBackend"):
        class Ignored(ScriptedLm):
            def _predict_samples(self, prompt, n):
                return []


def test_an_api_providers_class_is_a_front_door_over_its_own_backend():
    from lmwrapper.openai_wrapper import OpenAiBackend, OpenAIPredictor, get_open_ai_lm

    lm = get_open_ai_lm(api_key_secret="sk-test-front-door-123456")
    assert isinstance(lm, OpenAIPredictor) and not isinstance(lm, LmBackend)
    assert type(lm.backend) is OpenAiBackend and lm.model is lm.backend.model
    assert lm.default_tokens_generated is None  # OpenAI's (a chat model), not 0.18's default
    copy = pickle.loads(pickle.dumps(lm))
    assert type(copy.backend) is OpenAiBackend and copy.identity_json() == lm.identity_json()


def test_the_018_mock_is_a_front_door_too():
    from lmwrapper.abstract_predictor import get_mock_predictor

    lm = get_mock_predictor(is_chat_model=True)
    assert type(lm.backend).__name__ == "MockBackend" and not isinstance(lm, LmBackend)
    assert lm.is_chat_model and lm.cache_default is False and lm.backend.cache_default is False
    assert lm.predict("abc").completion_text == "abc"
