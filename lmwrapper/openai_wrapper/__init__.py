"""`lmwrapper.openai_wrapper`, an import path of lmwrapper 0.18: the OpenAI provider now live in `lmwrapper.providers.openai`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.providers.openai`.
"""

from lmwrapper.providers import openai as _home
from lmwrapper.providers.openai import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
