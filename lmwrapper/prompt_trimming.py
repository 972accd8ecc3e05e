"""`lmwrapper.prompt_trimming`, an import path of lmwrapper 0.18: 0.18's prompt trimmers now live in `lmwrapper.compat018.prompt_trimming`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.compat018 import prompt_trimming as _home
from lmwrapper.compat018.prompt_trimming import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
