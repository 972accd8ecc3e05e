"""`lmwrapper.sqlcache`, an import path of lmwrapper 0.18: the SQLite cache now live in `lmwrapper.store.db`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.store.db`.
"""

from lmwrapper.store import db as _home
from lmwrapper.store.db import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
