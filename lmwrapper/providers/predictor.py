"""`ApiPredictor`: the front door of every HTTP API model, over its `HttpApiBackend`.

A provider's public class (`OpenAiPredictor`, `ClaudePredictor`) names its backend class
and takes the constructor's arguments; everything the model does is the backend's
(`lmwrapper.providers.base`), and what the front door is asked beyond `predict`,
`predict_many` and the cache is answered by it (`lmwrapper.engine.predictor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from lmwrapper.engine.predictor import ProviderPredictor
from lmwrapper.providers.base import HttpApiBackend


class ApiPredictor(ProviderPredictor):
    """The front door of an HTTP API model (`OpenAiPredictor`, `ClaudePredictor`): it builds
    its `backend_class` from the constructor's arguments and holds it as `lm.backend`
    (`ProviderPredictor`). What it does not have is its backend's (`lm.model`, `lm.price`,
    `lm.client()`, ...), and a setting written to it (`lm.max_concurrency = 2`) is written
    to its backend.

    To change what a provider does, subclass its backend and name it here:

        class MyBackend(OpenAiBackend):
            def request_for(self, prompt, n, **kw): ...
        class MyPredictor(OpenAiPredictor):
            backend_class = MyBackend
    """

    backend_class: ClassVar[type[HttpApiBackend]] = HttpApiBackend

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.backend.repr_fields()})"

    if TYPE_CHECKING:  # LmPredictor's (a call from the engine stays on its side)
        @property
        def backend(self) -> HttpApiBackend: ...
