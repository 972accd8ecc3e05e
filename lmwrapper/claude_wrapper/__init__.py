"""Anthropic's Claude models as `LmPredictor`s (`get_claude_lm`, `ClaudeModelNames`).

The seed's import path `lmwrapper.claude_wrapper.wrapper` works too. Nothing here imports
`anthropic` until a request is sent.
"""

from lmwrapper.claude_wrapper.models import ClaudeModelInfo, ClaudeModelNames
from lmwrapper.claude_wrapper.predictor import DEFAULT_BASE_URL, ClaudePredictor
from lmwrapper.claude_wrapper.request import DEFAULT_MAX_TOKENS, build_request, parse_message
from lmwrapper.claude_wrapper.wrapper import get_claude_lm

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "ClaudeModelInfo",
    "ClaudeModelNames",
    "ClaudePredictor",
    "build_request",
    "get_claude_lm",
    "parse_message",
]
