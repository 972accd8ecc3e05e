"""`lmwrapper.internals`, an import path of lmwrapper 0.18: `ModelInternalsRequest` and `ModelInternalsResults` now live in `lmwrapper.compat018.internals`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.compat018 import internals as _home
from lmwrapper.compat018.internals import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
