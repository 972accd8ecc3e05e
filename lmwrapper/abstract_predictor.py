"""`lmwrapper.abstract_predictor`, an import path of lmwrapper 0.18: the `LmPredictor` front door now lives in `lmwrapper.engine.predictor`, `get_mock_predictor` in `lmwrapper.compat018.mock`.

A thin re-export, so scripts written for 0.18 keep working; new code imports the
public names from `lmwrapper` (the module named above is internal).
"""

from lmwrapper.compat018.mock import (  # noqa: F401  (0.18's, kept in compat018)
    MockBackend,
    MockPredictor,
    get_mock_predictor,
)
from lmwrapper.engine import predictor as _home
from lmwrapper.engine.predictor import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
