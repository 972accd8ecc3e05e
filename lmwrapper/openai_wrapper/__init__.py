"""`lmwrapper.openai_wrapper`: the public module of the OpenAI models (`get_open_ai_lm`,
`OpenAiModelNames`, `OpenAiPredictor`, `strict_violation`), and lmwrapper 0.18's import path.

A thin re-export of `lmwrapper.providers.openai` (internal: its module paths may change), so
scripts written for 0.18 keep working. Its star import also gives 0.18's names
(`OpenAIPredictor`, `SecretFile`, `LmPrompt`, ...: see `.wrapper`). Those and the public
names (`__all__`) are all it has: an internal module of the provider's folder is not
reached through it (an `AttributeError` lists the public names).
"""

from lmwrapper.core.errors import no_public_name
from lmwrapper.openai_wrapper import wrapper as _wrapper
from lmwrapper.openai_wrapper.wrapper import *
from lmwrapper.providers import openai as _home
from lmwrapper.providers.openai import *
from lmwrapper.providers.openai.strict import violation as strict_violation  # noqa: F401  (in __all__)

__all__ = sorted(set(_wrapper.__all__) | set(_home.__all__)  # noqa: PLE0605  (a star import's)
                 | {"strict_violation"})


def __getattr__(name: str) -> object:
    raise no_public_name(__name__, name, __all__)
