"""`lmwrapper.claude_wrapper`: the public module of Anthropic's Claude models
(`get_claude_lm`, `ClaudeModelNames`, `ClaudePredictor`), and lmwrapper 0.18's import path.

A thin re-export of `lmwrapper.providers.anthropic` (internal: its module paths may change),
so scripts written for 0.18 keep working. Its public names (`__all__`, 0.18's among them)
are all it has: an internal module of the provider's folder is not reached through it (an
`AttributeError` lists the public names).
"""

from lmwrapper.core.errors import no_public_name
from lmwrapper.providers import anthropic as _home
from lmwrapper.providers.anthropic import *

__all__ = list(_home.__all__)  # its star import's names


def __getattr__(name: str) -> object:
    raise no_public_name(__name__, name, __all__)
