"""`OpenAiPredictor`: the front door of an OpenAI model (`predict`, `predict_many`, the cache).

It holds an `OpenAiBackend` (`lmwrapper.providers.openai.backend`), built from the same
constructor arguments, which does everything that is OpenAI's; `lm.model`, `lm.price`,
`lm.client()` and the rest are its backend's (`ApiPredictor`). Here too are lmwrapper
0.18's instantiation hooks, which are handed the front door.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from lmwrapper.providers.openai.backend import OpenAiBackend
from lmwrapper.providers.openai.models import OpenAiModelInfo
from lmwrapper.providers.predictor import ApiPredictor
from lmwrapper.runners.live import DEFAULT_RETRY, RetryPolicy

if TYPE_CHECKING:
    from lmwrapper.core.money import Price


class OpenAiPredictor(ApiPredictor):
    """An OpenAI model (or one of an OpenAI-compatible server); made by `get_open_ai_lm`."""

    backend_class: ClassVar[type[OpenAiBackend]] = OpenAiBackend

    def __init__(
        self,
        model: OpenAiModelInfo,
        *,
        api_key_secret: Any = None,
        base_url: str | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 300.0,
        cache_default: bool = True,
        cache_dir: str | None = None,
        **settings: Any,  # a backend subclass's own (Azure's `azure=`)
    ) -> None:
        super().__init__(model, api_key_secret=api_key_secret, base_url=base_url,
                         max_concurrency=max_concurrency, retry=retry, timeout_s=timeout_s,
                         cache_default=cache_default, cache_dir=cache_dir, **settings)
        for hook in self._instantiation_hooks:  # 0.18's (see OpenAiInstantiationHook)
            hook.before_init(self, _ClientView018(self), str(model), model.is_chat_model,
                             cache_default, retry.retry_rate_limits)

    if TYPE_CHECKING:  # LmPredictor's (a call from the engine stays on its side)
        @property
        def backend(self) -> OpenAiBackend: ...

    if TYPE_CHECKING:  # its backend's, through `LmPredictor.__getattr__`
        model: OpenAiModelInfo
        base_url: str
        price: Price
        def client(self) -> Any: ...
        def api_key(self) -> str: ...

    @property
    def default_tokens_generated(self) -> int | None:
        """Its backend's (LmPredictor's 0.18 default is not OpenAI's)."""
        return self.backend.default_tokens_generated

    # -- lmwrapper 0.18 names --
    _instantiation_hooks: ClassVar[list[OpenAiInstantiationHook]] = []

    @classmethod
    def add_instantiation_hook(cls, hook: OpenAiInstantiationHook) -> None:
        """Run `hook.before_init(...)` for every OpenAI predictor made from now on, in this
        process (e.g. to refuse a key with a model it must not be used with)."""
        cls._instantiation_hooks.append(hook)


class OpenAiInstantiationHook(ABC):
    """lmwrapper 0.18's check run when an OpenAI predictor is made: subclass it, implement
    `before_init`, register it with `OpenAIPredictor.add_instantiation_hook(hook)`; raising
    in `before_init` refuses the model. It runs once the predictor is built, and `api` is not
    an `openai.OpenAI` client (made only when a request is sent) but a view of one:
    `api.api_key` (looked up when read), `api.base_url`, `api.organization` (None)."""

    @abstractmethod
    def before_init(self, new_predictor: OpenAiPredictor, api: Any, engine_name: str,
                    chat_mode: bool, cache_outputs_default: bool,
                    retry_on_rate_limit: bool) -> None:
        raise NotImplementedError



class _ClientView018:
    """What an `OpenAiInstantiationHook` reads of 0.18's client, without making one."""

    organization = None

    def __init__(self, lm: OpenAiPredictor) -> None:
        self._lm = lm
        self.base_url = lm.base_url

    @property
    def api_key(self) -> str:
        return self._lm.api_key()

