"""`lmwrapper.claude_wrapper.wrapper`, an import path of lmwrapper 0.18: `get_claude_lm` now live in `lmwrapper.providers.anthropic.factory`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.providers.anthropic import factory as _home
from lmwrapper.providers.anthropic.factory import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
