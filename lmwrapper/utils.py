"""`lmwrapper.utils`, an import path of lmwrapper 0.18: 0.18's helpers now live in `lmwrapper.compat018.utils`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.compat018 import utils as _home
from lmwrapper.compat018.utils import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
