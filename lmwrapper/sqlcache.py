"""`lmwrapper.sqlcache`, an import path of lmwrapper 0.18: the SQLite cache now live in `lmwrapper.store` (`db`, `keys`, `rows`, `migrations`).

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.store import db as _home
from lmwrapper.store import keys as _keys
from lmwrapper.store import migrations as _migrations
from lmwrapper.store import rows as _rows
from lmwrapper.store.db import *


def __getattr__(name: str) -> object:
    for home in (_home, _keys, _rows, _migrations):
        if hasattr(home, name):
            return getattr(home, name)
    raise AttributeError(f"module 'lmwrapper.sqlcache' has no attribute {name!r}")
