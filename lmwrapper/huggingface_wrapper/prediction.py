"""lmwrapper 0.18's home of `HuggingFacePrediction`: predictions of every backend are
`LmPrediction`s now, with the same properties (tokens, logprobs, offsets, `internals`)."""

from lmwrapper.core.prompt import LmPrediction

HuggingFacePrediction = LmPrediction

__all__ = ["HuggingFacePrediction"]
