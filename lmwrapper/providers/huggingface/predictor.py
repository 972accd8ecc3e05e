"""`HuggingFacePredictor`: the front door of a local causal LM (`predict`, `predict_many`, the cache).

It holds a `HuggingFaceBackend` (`lmwrapper.providers.huggingface.backend`), built from the
same constructor arguments, which does everything that is the model's: its batches on the
device, logprobs, internals, tokens. `lm.model`, `lm.tokenizer`, `lm.logit_lens(...)` and
the rest are its backend's (`lmwrapper.engine.predictor.ProviderPredictor`); a setting
written here (`lm.batch_size = 8`) is written to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from lmwrapper.core import extend
from lmwrapper.engine.predictor import ProviderPredictor
from lmwrapper.providers.huggingface.backend import HuggingFaceBackend

if TYPE_CHECKING:
    from lmwrapper.providers.huggingface.internals import ModelInternals
    from lmwrapper.providers.huggingface.prompts import PromptEncoder

    class _LocalModel:
        """What the front door answers from its `HuggingFaceBackend` (`LmPredictor.__getattr__`),
        declared for mypy: the local model's public members."""

        batch_size: int
        num_layers: int
        @property
        def model(self) -> Any:
            """The torch model; loaded on first access, so a fully cached run never loads
            weights."""
        @property
        def tokenizer(self) -> Any: ...
        @property
        def config(self) -> Any: ...
        @property
        def encoder(self) -> PromptEncoder: ...
        def apply_chat_template(self, chat_history: list[dict[str, str]],
                                add_generation_prompt: bool = True) -> str:
            """The chat as text, by the tokenizer's own template: what lm-evaluation-harness's
            `HFLM.apply_chat_template` returns."""
        def token_str(self, token_id: int) -> str:
            """One token as text (a token that is only part of a UTF-8 character in the
            tokenizer's own form, so distinct ids stay distinct)."""
        def decode(self, ids: Sequence[int]) -> str: ...
        def tokenize_ids(self, input_str: str) -> list[int]:
            """`input_str` as token ids, without special tokens (no BOS)."""
        def logit_lens(self, internals: ModelInternals, layer: int) -> Any:
            """Next-token log-probs `[len(tokens), vocab]` read from `layer` through the
            final norm."""
else:
    _LocalModel = object


class HuggingFacePredictor(ProviderPredictor, _LocalModel):
    """A loaded model + tokenizer (a `HuggingFaceBackend`, built from the same arguments).
    Build one with `get_huggingface_lm`."""

    backend_class: ClassVar[type[HuggingFaceBackend]] = HuggingFaceBackend

    def __init__(self, model: Any, tokenizer: Any, config: Any, *, name: str,
                 identity: dict[str, Any], batch_size: int, use_chat_mode: bool | None = None,
                 cache_default: bool = True, cache_dir: str | None = None,
                 load_tokenizer: Callable[[], tuple[Any, Any]] | None = None,
                 has_template: bool | None = None, **settings: Any) -> None:
        """`model` is a loaded model, or a function that loads it (called on first use).
        With `load_tokenizer` (and `has_template`, read from the folder), `tokenizer` and
        `config` may be None: they load on first use too, so a fully cached run needs
        neither them nor torch. `settings`: a backend subclass's own arguments."""
        super().__init__(model, tokenizer, config, name=name, identity=identity,
                         batch_size=batch_size, use_chat_mode=use_chat_mode,
                         load_tokenizer=load_tokenizer, has_template=has_template,
                         cache_default=cache_default, cache_dir=cache_dir, **settings)

    def with_settings(self, *, batch_size: int | None = None, cache_default: bool | None = None,
                      cache_dir: str | None = None) -> Self:
        """A predictor of the same class (a trimmer, a backend subclass, ... kept) sharing
        these weights (no reload) with other run settings."""
        args, kwargs = cast("HuggingFaceBackend", self.backend).constructor_args()
        if batch_size:
            kwargs["batch_size"] = batch_size
        make: Callable[..., Self] = type(self)  # kwargs hold no argument named in args
        return make(
            *args, **kwargs,
            cache_default=self.cache_default if cache_default is None else cache_default,
            cache_dir=cache_dir if cache_dir is not None else self._cache_dir,
            **self._subclass_kwargs())

    def _subclass_kwargs(self) -> dict[str, Any]:
        """What a subclass's __init__ needs besides ours, for `with_settings`."""
        return {}

    if TYPE_CHECKING:  # 0.18's, lent by lmwrapper.compat018.hf_names.HfCompat018 (below)
        space_char: str | None
        newline_char: str | None
        @property
        def is_encoder_decoder(self) -> bool: ...


extend.receive(HuggingFacePredictor)  # 0.18's names (lmwrapper.compat018.hf_names)
