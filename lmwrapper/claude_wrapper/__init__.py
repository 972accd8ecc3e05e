"""`lmwrapper.claude_wrapper`: the public module of Anthropic's Claude models
(`get_claude_lm`, `ClaudeModelNames`, `ClaudePredictor`), and lmwrapper 0.18's import path.

A thin re-export of `lmwrapper.providers.anthropic` (internal: its module paths may change),
so scripts written for 0.18 keep working.
"""

from lmwrapper.providers import anthropic as _home
from lmwrapper.providers.anthropic import *


def __getattr__(name: str) -> object:
    return getattr(_home, name)
