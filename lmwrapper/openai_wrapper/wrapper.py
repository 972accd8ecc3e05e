"""lmwrapper 0.18's module path for the OpenAI wrapper: `from lmwrapper.openai_wrapper.wrapper import *`.

It has every public name of `lmwrapper.providers.openai`, plus the 0.18 spellings scripts use
with a star import: `OpenAIPredictor` (this version's `OpenAiPredictor`, which also takes
0.18's constructor: `OpenAIPredictor(api=OpenAI(...), engine_name=...)`), `OpenAiLmPrediction`
(predictions of every backend are `LmPrediction`s now), and the core names 0.18's module
re-exported (`LmPrompt`, `LmPrediction`, `LmPredictor`, `LmReasoningStyle`, `CompletionWindow`).
"""

from typing import Any

from lmwrapper.compat018.secrets_manager import (
    SecretEnvVar,
    SecretFile,
    SecretInterface,
    assert_is_a_secret,
)
from lmwrapper.core.prompt import LmPrediction, LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.predictor import LmPredictor, LmReasoningStyle
from lmwrapper.providers.openai import (
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
from lmwrapper.providers.openai.predictor import OpenAiInstantiationHook

OpenAiLmPrediction = LmPrediction
# 0.18's module-level aliases, which its star import gave
NEVER_THINK = LmReasoningStyle.NEVER_THINK
ALWAYS_THINK = LmReasoningStyle.ALWAYS_THINK
CONFIGURABLE_THINKING = LmReasoningStyle.CONFIGURABLE_THINKING


class _Spelling018(type):
    """`OpenAIPredictor` is `OpenAiPredictor` for isinstance/issubclass; calling it also
    accepts 0.18's constructor (an `openai.OpenAI` client and an engine name)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if "api" in kwargs or "engine_name" in kwargs or (args and hasattr(args[0], "api_key")):
            return _from_client_018(*args, **kwargs)
        return OpenAiPredictor(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, OpenAiPredictor)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, OpenAiPredictor)


class OpenAIPredictor(OpenAiPredictor, metaclass=_Spelling018):
    """0.18's spelling of `OpenAiPredictor` (see `_Spelling018`); build models with
    `get_open_ai_lm`."""


def _from_client_018(api: Any, engine_name: str, chat_mode: bool | None = None,
                     reasoning_style: LmReasoningStyle | None = None,
                     cache_outputs_default: bool | None = None,
                     retry_on_rate_limit: bool = True) -> OpenAiPredictor:
    """0.18's `OpenAIPredictor(api, engine_name, ...)`: the client's key, base URL and
    organization go to `get_open_ai_lm`; `chat_mode` / `reasoning_style` describe a model
    the registry does not know (as 0.18 required). The client object itself is not used."""
    facts: dict[str, Any] = {}
    if chat_mode is not None or reasoning_style is not None:
        thinks = reasoning_style in (LmReasoningStyle.ALWAYS_THINK,
                                     LmReasoningStyle.CONFIGURABLE_THINKING)
        facts["kind"] = "reasoning" if thinks else "instruct" if chat_mode is False else "chat"
    return get_open_ai_lm(engine_name, getattr(api, "api_key", None),
                          getattr(api, "organization", None), cache_outputs_default,
                          retry_on_rate_limit, base_url=str(api.base_url), **facts)

__all__ = [
    "ALWAYS_THINK",
    "CONFIGURABLE_THINKING",
    "DEFAULT_BASE_URL",
    "NEVER_THINK",
    "CompletionWindow",
    "LmPrediction",
    "LmPredictor",
    "LmPrompt",
    "LmReasoningStyle",
    "OpenAIPredictor",
    "OpenAiInstantiationHook",
    "OpenAiLmPrediction",
    "OpenAiModelInfo",
    "OpenAiModelNames",
    "OpenAiPredictor",
    "OpenAiRequest",
    "RetryPolicy",
    "SecretEnvVar",
    "SecretFile",
    "SecretInterface",
    "assert_is_a_secret",
    "build_request",
    "get_open_ai_lm",
    "parse_response",
]
