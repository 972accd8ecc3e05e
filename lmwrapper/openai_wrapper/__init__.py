"""`lmwrapper.openai_wrapper`, an import path of lmwrapper 0.18: the OpenAI provider now live in `lmwrapper.providers.openai`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.providers.openai`. Its star import also
gives 0.18's names (`OpenAIPredictor`, `SecretFile`, `LmPrompt`, ...: see `.wrapper`).
"""

from lmwrapper.openai_wrapper import wrapper as _wrapper
from lmwrapper.openai_wrapper.wrapper import *
from lmwrapper.providers import openai as _home
from lmwrapper.providers.openai import *

__all__ = sorted(set(_wrapper.__all__) | set(_home.__all__))  # noqa: PLE0605  (a star import's)


def __getattr__(name: str) -> object:
    return getattr(_home, name)
