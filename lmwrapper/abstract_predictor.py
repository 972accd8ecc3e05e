"""`lmwrapper.abstract_predictor`, an import path of lmwrapper 0.18: the `LmPredictor` front door now live in `lmwrapper.engine.predictor`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.engine import predictor as _home
from lmwrapper.engine.predictor import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
