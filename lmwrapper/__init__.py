"""lmwrapper: run language models over datasets, cached on disk, resumable, cost known up front.

The public surface is `__all__` below, the provider modules `lmwrapper.openai_wrapper`,
`lmwrapper.claude_wrapper` and `lmwrapper.huggingface_wrapper` (their backends load lazily;
`lmwrapper.get_lm("openai/gpt-5.4-mini")` picks one by name), `lmwrapper.tools` (scoring,
sharding and `merge_caches`, batch `submit_or_collect`), `lmwrapper.testing` (fakes), the
`lmwrapper` command and lmwrapper 0.18's import paths (`lmwrapper.structs`, ...). The layer
packages (`core`, `store`, `engine`, `runners`, `providers`, `cli`, `compat018`) and `_`
modules are internal: their module paths may change (docs/architecture.md, "Public and
internal"; tests/test_public_surface.py holds the line).
"""

from lmwrapper._version import __version__ as __version__  # re-exported
from lmwrapper.core.errors import (
    CacheFileError,
    CacheLockedError,
    ConfigurationError,
    CostLimitExceededError,
    LmWrapperError,
    MissingApiKeyError,
    ModelNotFoundError,
    ModelRetiringWarning,
    PermanentProviderError,
    PromptTooLongError,
    ProviderError,
    RateLimitError,
    RejectedRequestError,
    RequestTooLargeError,
    TransientProviderError,
    UnknownModelError,
)
from lmwrapper.core.money import CostEstimate
from lmwrapper.core.prompt import (
    LmChatDialog,
    LmChatTurn,
    LmPrediction,
    LmPrompt,
    LmUsage,
    ModelInternalsRequest,
)
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.plan import RunSummary
from lmwrapper.engine.predictor import LmPredictor
from lmwrapper.providers.registry import get_lm
from lmwrapper.runners.live import RetryPolicy
from lmwrapper.store.db import get_cache_dir, set_cache_dir

__all__ = [
    "CacheFileError",
    "CacheLockedError",
    "CompletionWindow",
    "ConfigurationError",
    "CostEstimate",
    "CostLimitExceededError",
    "LmChatDialog",
    "LmChatTurn",
    "LmPrediction",
    "LmPredictor",
    "LmPrompt",
    "LmUsage",
    "LmWrapperError",
    "Lmwrapper018Warning",
    "MissingApiKeyError",
    "ModelInternalsRequest",
    "ModelNotFoundError",
    "ModelRetiringWarning",
    "PermanentProviderError",
    "PromptTooLongError",
    "ProviderError",
    "RateLimitError",
    "RejectedRequestError",
    "RequestTooLargeError",
    "RetryPolicy",
    "RunSummary",
    "TransientProviderError",
    "UnknownModelError",
    "get_cache_dir",
    "get_lm",
    "set_cache_dir",
]

# Last, once the public names exist: lmwrapper 0.18's behaviour plugs into the core's
# extension points (see lmwrapper.compat018), so it is there before any user code runs.
# Its warning is public: `warnings.filterwarnings("ignore", category=Lmwrapper018Warning)`.
from lmwrapper import compat018  # noqa: F401
from lmwrapper.compat018.hooks import Lmwrapper018Warning
