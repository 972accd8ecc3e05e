"""lmwrapper 0.18's home of `ModelInternalsRequest` (and `ModelInternalsResults`).

`ModelInternalsResults` is 0.18's name for what `LmPrediction.internals` holds; here it is
`lmwrapper.providers.huggingface.ModelInternals` (loaded lazily: it needs numpy), with 0.18's
`hidden_states`, `attentions` (one array per layer) and `has_a_bos`.
"""

from typing import Any

from lmwrapper.core.prompt import ModelInternalsRequest

__all__ = ["ModelInternalsRequest"]  # ModelInternalsResults too, lazily (below)


def __getattr__(name: str) -> Any:
    if name == "ModelInternalsResults":
        from lmwrapper.providers.huggingface.internals import ModelInternals  # imports numpy

        return ModelInternals
    raise AttributeError(f"module 'lmwrapper.compat018.internals' has no attribute {name!r}")
