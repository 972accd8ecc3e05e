"""`lmwrapper.runtime`, an import path of lmwrapper 0.18: `Runtime` now live in `lmwrapper.compat018.runtime`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.compat018 import runtime as _home
from lmwrapper.compat018.runtime import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
