"""`lmwrapper.prompt_trimming`, an import path of lmwrapper 0.18: 0.18's prompt trimmers now live in `lmwrapper.compat018.prompt_trimming`.

A thin re-export, so scripts written for 0.18 keep working; new code imports from
`lmwrapper` (the public names) or from `lmwrapper.compat018.prompt_trimming`.
"""

from lmwrapper.compat018 import prompt_trimming as _home
from lmwrapper.compat018.prompt_trimming import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
