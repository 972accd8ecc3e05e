"""`ClaudePredictor`: the front door of a Claude model (`predict`, `predict_many`, the cache).

It holds a `ClaudeBackend` (`lmwrapper.providers.anthropic.backend`), built from the same
constructor arguments, which does everything that is Anthropic's; `lm.model`, `lm.price`,
`lm.count_tokens(prompt)` and the rest are its backend's (`ApiPredictor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lmwrapper.providers.anthropic.backend import ClaudeBackend
from lmwrapper.providers.anthropic.models import ClaudeModelInfo
from lmwrapper.providers.predictor import ApiPredictor
from lmwrapper.runners.live import DEFAULT_RETRY, RetryPolicy

if TYPE_CHECKING:
    from lmwrapper.core.prompt import LmPrompt
    from lmwrapper.providers.anthropic.request import ClaudePrice
    from lmwrapper.providers.anthropic.tokens import TokenCount


class ClaudePredictor(ApiPredictor):
    """The front door of a Claude model (a `ClaudeBackend`, built from the same arguments);
    made by `get_claude_lm`."""

    backend_class = ClaudeBackend

    def __init__(self, model: ClaudeModelInfo, *, api_key_secret: Any = None,
                 base_url: str | None = None, max_concurrency: int = 8,
                 retry: RetryPolicy = DEFAULT_RETRY, timeout_s: float = 600.0,
                 cache_default: bool = True, cache_dir: str | None = None) -> None:
        super().__init__(model, api_key_secret=api_key_secret, base_url=base_url,
                         max_concurrency=max_concurrency, retry=retry, timeout_s=timeout_s,
                         cache_default=cache_default, cache_dir=cache_dir)

    if TYPE_CHECKING:  # LmPredictor's (a call from the engine stays on its side)
        @property
        def backend(self) -> ClaudeBackend: ...

    if TYPE_CHECKING:  # its backend's, through `LmPredictor.__getattr__`
        model: ClaudeModelInfo
        base_url: str
        price: ClaudePrice
        def client(self) -> Any: ...
        def count_tokens(self, prompt: LmPrompt) -> TokenCount: ...
