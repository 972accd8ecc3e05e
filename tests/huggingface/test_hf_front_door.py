"""`HuggingFacePredictor` is a front door holding a `HuggingFaceBackend`: what users read of
it (`lm.model`, `lm.tokenizer`, `lm.batch_size`, ...) is its backend's, it pickles with its
weights, and a change to what the model does goes on a backend subclass."""

from __future__ import annotations

import pickle

import pytest

from lmwrapper.huggingface_wrapper import HuggingFaceBackend, HuggingFacePredictor
from lmwrapper.structs import LmPrompt


def test_the_front_door_answers_from_its_backend(tiny_lm):
    lm = tiny_lm.with_settings(batch_size=2)
    assert isinstance(lm, HuggingFacePredictor) and lm.backend is not lm
    assert type(lm.backend) is HuggingFaceBackend and lm.backend is not tiny_lm.backend
    assert lm.model is tiny_lm.model and lm.tokenizer is lm.backend.tokenizer  # shared weights
    assert lm.batch_size == 2 and lm.num_layers == 2 and "".join(lm.tokenize("hello")) == "hello"
    lm.batch_size = 3  # written to the front door: the backend's, which reads it
    assert lm.backend.batch_size == 3 and "batch_size" not in vars(lm)
    assert lm.identity_json() == tiny_lm.identity_json()


def test_it_pickles_with_its_weights(tiny_lm):
    prompt = LmPrompt("The capital of", max_tokens=4, temperature=0)
    copy = pickle.loads(pickle.dumps(tiny_lm))
    assert type(copy.backend) is HuggingFaceBackend and copy.cache_default is False
    assert copy.predict(prompt).completion_text == tiny_lm.predict(prompt).completion_text


class Shouting(HuggingFaceBackend):
    def decode(self, ids):
        return super().decode(ids).upper()


class ShoutingLm(HuggingFacePredictor):
    backend_class = Shouting


def test_a_backend_subclass_named_on_a_front_door_is_what_runs(tiny_lm):
    args, kwargs = tiny_lm.backend.constructor_args()
    lm = ShoutingLm(*args, **kwargs, cache_default=False)
    prompt = LmPrompt("The capital of", max_tokens=8, temperature=0)
    plain = tiny_lm.predict(prompt).completion_text
    assert plain != plain.upper() and lm.predict(prompt).completion_text == plain.upper()
    assert type(lm.with_settings(batch_size=1).backend) is Shouting  # kept


def test_a_front_door_subclass_overriding_the_backend_is_refused():
    with pytest.raises(TypeError, match="define them on a subclass of HuggingFaceBackend"):
        class Ignored(HuggingFacePredictor):
            def decode(self, ids):
                return ""
