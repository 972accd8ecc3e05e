"""`lmwrapper.utils`, an import path of lmwrapper 0.18: 0.18's helpers now live in `lmwrapper.compat018.utils`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.compat018.utils`.
"""

from lmwrapper.compat018 import utils as _home
from lmwrapper.compat018.utils import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
