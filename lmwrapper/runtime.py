"""`lmwrapper.runtime`, an import path of lmwrapper 0.18: `Runtime` now live in `lmwrapper.compat018.runtime`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.compat018.runtime`.
"""

from lmwrapper.compat018 import runtime as _home
from lmwrapper.compat018.runtime import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
