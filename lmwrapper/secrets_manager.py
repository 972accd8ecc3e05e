"""`lmwrapper.secrets_manager`, an import path of lmwrapper 0.18: 0.18's key holders now live in `lmwrapper.compat018.secrets_manager`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.compat018.secrets_manager`.
"""

from lmwrapper.compat018 import secrets_manager as _home
from lmwrapper.compat018.secrets_manager import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
