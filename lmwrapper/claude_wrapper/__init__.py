"""`lmwrapper.claude_wrapper`, an import path of lmwrapper 0.18: the Anthropic provider now live in `lmwrapper.providers.anthropic`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.providers.anthropic`.
"""

from lmwrapper.providers import anthropic as _home
from lmwrapper.providers.anthropic import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
