"""`lmwrapper.batch_config`, an import path of lmwrapper 0.18: `CompletionWindow` now live in `lmwrapper.core.window`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.core import window as _home
from lmwrapper.core.window import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
