"""`lmwrapper.structs`, an import path of lmwrapper 0.18: the values now live in `lmwrapper.core.prompt`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.compat018.values import ChatGptRoles  # noqa: F401  (0.18's, kept in compat018)
from lmwrapper.core import prompt as _home
from lmwrapper.core.prompt import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
