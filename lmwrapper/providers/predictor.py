"""`ApiPredictor`: the front door of every HTTP API model, over its `HttpApiBackend`.

A provider's public class (`OpenAiPredictor`, `ClaudePredictor`) names its backend class
and takes the constructor's arguments; everything the model does is the backend's
(`lmwrapper.providers.base`), and what the front door is asked beyond `predict`,
`predict_many` and the cache is answered by it (`lmwrapper.engine.predictor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from lmwrapper.engine.predictor import LmPredictor
from lmwrapper.providers.base import HttpApiBackend


class ApiPredictor(LmPredictor):
    """The front door of an HTTP API model (`OpenAiPredictor`, `ClaudePredictor`): it builds
    its `backend_class` from the constructor's arguments (all but `cache_default` and
    `cache_dir`, which are the front door's) and holds it as `lm.backend`. What it does not
    have is its backend's (`lm.model`, `lm.price`, `lm.client()`, ...), and a setting written
    to it (`lm.max_concurrency = 2`) is written to its backend.

    To change what a provider does, subclass its backend and name it here:

        class MyBackend(OpenAiBackend):
            def request_for(self, prompt, n, **kw): ...
        class MyPredictor(OpenAiPredictor):
            backend_class = MyBackend
    """

    backend_class: ClassVar[type[HttpApiBackend]] = HttpApiBackend

    def __init__(self, *args: Any, cache_default: bool = True, cache_dir: str | None = None,
                 **settings: Any) -> None:
        super().__init__(cache_default, cache_dir,
                         backend=self.backend_class(*args, **settings))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass overriding what is its backend's would be ignored: say so, and how."""
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("lmwrapper."):
            return
        moved = sorted(n for n in vars(cls) if not n.startswith("__") and n != "backend_class"
                       and hasattr(cls.backend_class, n) and not hasattr(LmPredictor, n))
        if moved:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(moved)}, which {cls.__mro__[1].__name__}'s "
                f"backend ({cls.backend_class.__name__}) does, so it would be ignored: define "
                f"them on a subclass of {cls.backend_class.__name__} and name it on "
                f"{cls.__name__} as backend_class (see lmwrapper.providers.predictor.ApiPredictor)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.backend.repr_fields()})"

    if TYPE_CHECKING:  # LmPredictor's (a call from the engine stays on its side)
        @property
        def backend(self) -> HttpApiBackend: ...
