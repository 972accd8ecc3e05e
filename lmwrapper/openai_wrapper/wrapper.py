"""lmwrapper 0.18's module path for the OpenAI wrapper: `from lmwrapper.openai_wrapper.wrapper import *`.

It has every public name of `lmwrapper.openai_wrapper`, plus the 0.18 spellings scripts use
with a star import: `OpenAIPredictor` (this version's `OpenAiPredictor`), `OpenAiLmPrediction`
(predictions of every backend are `LmPrediction`s now), and the core names 0.18's module
re-exported (`LmPrompt`, `LmPrediction`, `LmPredictor`, `LmReasoningStyle`, `CompletionWindow`).
"""

from lmwrapper.abstract_predictor import LmPredictor, LmReasoningStyle
from lmwrapper.batch_config import CompletionWindow
from lmwrapper.openai_wrapper import (
    DEFAULT_BASE_URL,
    OpenAiModelInfo,
    OpenAiModelNames,
    OpenAiPredictor,
    OpenAiRequest,
    RetryPolicy,
    build_request,
    get_open_ai_lm,
    parse_response,
)
from lmwrapper.structs import LmPrediction, LmPrompt

OpenAIPredictor = OpenAiPredictor
OpenAiLmPrediction = LmPrediction

__all__ = [
    "DEFAULT_BASE_URL",
    "CompletionWindow",
    "LmPrediction",
    "LmPredictor",
    "LmPrompt",
    "LmReasoningStyle",
    "OpenAIPredictor",
    "OpenAiLmPrediction",
    "OpenAiModelInfo",
    "OpenAiModelNames",
    "OpenAiPredictor",
    "OpenAiRequest",
    "RetryPolicy",
    "build_request",
    "get_open_ai_lm",
    "parse_response",
]
