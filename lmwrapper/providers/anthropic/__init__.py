"""Anthropic's Claude models as `LmPredictor`s (`get_claude_lm`, `ClaudeModelNames`).

The seed's import path `lmwrapper.providers.anthropic.factory` works too. Nothing here imports
`anthropic` until a request is sent.
"""

from lmwrapper.providers.anthropic.backend import DEFAULT_BASE_URL, ClaudeBackend
from lmwrapper.providers.anthropic.factory import get_claude_lm
from lmwrapper.providers.anthropic.models import ClaudeModelInfo, ClaudeModelNames
from lmwrapper.providers.anthropic.predictor import ClaudePredictor
from lmwrapper.providers.anthropic.request import DEFAULT_MAX_TOKENS, build_request, parse_message

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "ClaudeBackend",
    "ClaudeModelInfo",
    "ClaudeModelNames",
    "ClaudePredictor",
    "build_request",
    "get_claude_lm",
    "parse_message",
]
