"""0.18's stand-in model for unit tests: `get_mock_predictor()` (0.18's
`lmwrapper.abstract_predictor.get_mock_predictor`, re-exported there), a `MockPredictor`
front door over a `MockBackend`. Here because only 0.18 has it: new tests use
`lmwrapper.testing.ScriptedLm`.

    >>> get_mock_predictor().predict("abc").completion_text
    'abc'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.engine.backend import LmBackend
from lmwrapper.engine.predictor import LmPredictor, ProviderPredictor


class MockBackend(LmBackend):
    """What 0.18's stand-in model for unit tests answers with (see `get_mock_predictor`)."""

    provider = "mock"

    def __init__(self, predict_func: Callable[[LmPrompt], LmPrediction] | None = None,
                 is_chat_model: bool = False) -> None:
        self._func = predict_func
        self._chat = is_chat_model

    def model_identity(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": "mock_predictor"}

    @property
    def is_chat_model(self) -> bool:
        return self._chat

    def _predict_samples(self, prompt: LmPrompt, n: int) -> list[LmPrediction]:
        if self._func is not None:
            return [self._func(prompt) for _ in range(n)]
        text = prompt.get_text_as_string_default_form()
        return [LmPrediction(text, prompt, provider=self.provider, model="mock_predictor",
                             sample_index=i) for i in range(n)]


class MockPredictor(ProviderPredictor):
    """0.18's stand-in model for unit tests (see `get_mock_predictor`): the front door of a
    `MockBackend`."""

    backend_class = MockBackend

    def __init__(self, predict_func: Callable[[LmPrompt], LmPrediction] | None = None,
                 is_chat_model: bool = False) -> None:
        # 0.18's default: tests leave nothing on disk
        super().__init__(predict_func, is_chat_model, cache_default=False)


def get_mock_predictor(predict_func: Callable[[LmPrompt], LmPrediction] | None = None,
                       is_chat_model: bool = False) -> LmPredictor:
    """0.18's stand-in model for unit tests: answers with the prompt's text (chats in
    `role: content` form), or with `predict_func(prompt)`. It runs through the same engine
    as a real model (ordering, samples, errors) and does not cache."""
    return MockPredictor(predict_func, is_chat_model)


__all__ = ["MockBackend", "MockPredictor", "get_mock_predictor"]
