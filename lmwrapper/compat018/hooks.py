"""What lets a script written for lmwrapper 0.18 run unchanged (see README, "Coming from 0.18").

The 0.18 names live where 0.18 had them (`lmwrapper.caching`, `lmwrapper.runtime`,
`lm.remove_prompt_from_cache`, ...); this module holds the logic behind the predictors' and
the factories' ones, which `install()` plugs into the extension points of
`lmwrapper.core.extend` (0.18's names on `LmPrompt` / `LmPrediction` are in
`lmwrapper.compat018.values`):

- `openai_factory_args` / `hf_factory_args`: 0.18 factory arguments, honoured where they
  mean something here, otherwise accepted with a `Lmwrapper018Warning` or refused with the
  reason (never an unexpected-keyword `TypeError`);
- `PredictorCompat018`: 0.18's methods of `LmPredictor` (`remove_prompt_from_cache`, ...);
- `Backend018` (with `identity_018` / `samples_018`): an `LmPredictor` subclass written for
  0.18, which is a front door only, as the backend it holds.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from lmwrapper.core import extend
from lmwrapper.engine.backend import LmBackend, LmReasoningStyle
from lmwrapper.engine.plan import as_prompt
from lmwrapper.engine.predictor import LmPredictor
from lmwrapper.store.db import CACHE_FILE_NAME, get_cache, get_cache_dir
from lmwrapper.store.keys import prompt_key

if TYPE_CHECKING:
    from lmwrapper.core.prompt import LmPrediction, LmPrompt


class Lmwrapper018Warning(FutureWarning):
    """A 0.18 argument or method that is accepted but means something else (or nothing) here.

    A FutureWarning, so it shows in scripts and notebooks by default; silence it with
    `warnings.filterwarnings("ignore", category=Lmwrapper018Warning)`.
    """


def warn(message: str, stacklevel: int = 3) -> None:
    """Warn at the user's line: by default the caller of the function calling `warn`."""
    warnings.warn(message, Lmwrapper018Warning, stacklevel=stacklevel)


# -- factory arguments ---------------------------------------------------------------------

def openai_factory_args(cache_default: bool, cache_outputs_default: bool | None,
                        organization: str | None) -> bool:
    """`get_open_ai_lm`'s 0.18 arguments → the cache default to use.

    `cache_outputs_default` is 0.18's `cache_default`; `organization` is not sent by this
    client, which says so.
    """
    if cache_outputs_default is not None:
        cache_default = bool(cache_outputs_default)
    if organization is not None:
        warn(f"get_open_ai_lm(organization={organization!r}): lmwrapper does not send an "
             "organization header; requests bill the key's default organization. Use a key "
             "(or project key) of the organization you want to bill.", stacklevel=4)
    return cache_default


_RUNTIMES_REFUSED = {
    "ORT_CUDA": "ONNX Runtime", "ORT_TENSORRT": "ONNX Runtime with TensorRT",
    "ORT_CPU": "ONNX Runtime", "BETTER_TRANSFORMER": "BetterTransformer",
}


def hf_factory_args(runtime: Any, precision: Any, allow_patch_model_forward: bool, *,
                    dtype: str | None, device: Any, device_map: Any
                    ) -> tuple[str | None, str | None, Any]:
    """`get_huggingface_lm`'s 0.18 arguments → this version's `(dtype, device, device_map)`.

    runtime=PYTORCH is the default; ACCELERATE is `device_map="auto"`; ONNX/BetterTransformer
    runtimes are refused. `precision=torch.float16` is `dtype="float16"`.
    `allow_patch_model_forward` is accepted (logprobs never need a patched forward here).
    (`prompt_trimmer` is honoured by `compat018/hf_trimming.py`.)
    """
    if runtime is not None:
        device_map = _runtime_device_map(runtime, device_map)
    if precision is not None:
        if dtype is not None and str(precision).removeprefix("torch.") != dtype:
            raise ValueError(f"get_huggingface_lm: precision={precision} and dtype={dtype!r} "
                             "disagree; pass only dtype")
        dtype = str(precision).removeprefix("torch.")
    if not allow_patch_model_forward:
        warn("get_huggingface_lm(allow_patch_model_forward=False) has no effect: lmwrapper "
             "reads logprobs without patching the model's forward.", stacklevel=4)
    if device is not None and not isinstance(device, str):
        device = str(device)  # a torch.device, as 0.18 accepted
    return dtype, device, device_map


def hf_prompt_trimmer(prompt_trimmer: Any) -> tuple[type, dict[str, Any]]:
    """`get_huggingface_lm(prompt_trimmer=)`: the predictor class that trims string prompts
    before they are keyed and run, and its keyword arguments."""
    # the local model's modules import numpy: loaded only when a trimmer is given
    from lmwrapper.compat018.hf_trimming import TrimmingHuggingFacePredictor

    return TrimmingHuggingFacePredictor, {"prompt_trimmer": prompt_trimmer}


def _runtime_device_map(runtime: Any, device_map: Any) -> Any:
    name = getattr(runtime, "name", str(runtime)).rsplit(".", 1)[-1].upper()
    if name == "PYTORCH":
        return device_map
    if name == "ACCELERATE":
        return device_map if device_map is not None else "auto"
    what = _RUNTIMES_REFUSED.get(name, name)
    raise ValueError(f"get_huggingface_lm(runtime=Runtime.{name}): {what} is not supported; "
                     "lmwrapper runs local models with PyTorch (Runtime.PYTORCH, the default), "
                     "or across devices with device_map='auto' (Runtime.ACCELERATE). For a "
                     "faster server, run vLLM/SGLang/TGI and use get_open_ai_lm(base_url=...).")


# -- LmPredictor subclasses written for 0.18 ----------------------------------------------

def identity_018(lm: LmPredictor) -> dict[str, Any]:
    """A 0.18 subclass's identity: its `get_model_cache_key()` (0.18's part of the key)."""
    if type(lm).get_model_cache_key is LmPredictor.get_model_cache_key:
        raise NotImplementedError(
            f"{type(lm).__name__} must implement model_identity(): a dict of what changes its "
            "outputs (provider, model name, version, ...), which keys its cache entries")
    return {"provider": getattr(type(lm), "provider", "unknown"),
            "model": str(lm.get_model_cache_key())}


def samples_018(lm: LmPredictor, prompt: LmPrompt, n: int) -> list[LmPrediction]:
    """`n` samples from a 0.18 subclass's `_predict_maybe_cached(prompt)` (one prediction, or
    a list of `num_completions`)."""
    predict = getattr(lm, "_predict_maybe_cached", None)
    if predict is None:
        raise NotImplementedError(f"{type(lm).__name__} must implement _predict_samples(prompt, "
                                  "n) (n predictions for the prompt) or _run")
    asked = prompt if n == 1 and prompt.num_completions is None else prompt.replace(
        num_completions=n)
    out = predict(asked)
    predictions = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(predictions) != n:
        raise ValueError(f"{type(lm).__name__}._predict_maybe_cached returned "
                         f"{len(predictions)} predictions for num_completions={n}")
    return [p.evolve(prompt=prompt) if p.prompt is not prompt else p for p in predictions]


class Backend018(LmBackend):
    """The backend of an `LmPredictor` subclass written for 0.18 (the front door), built from
    what it implements: its identity from `get_model_cache_key()`, its samples from
    `_predict_maybe_cached`, and the model facts it defines itself (`model_name`,
    `token_limit`, `is_chat_model`, ...: what it wrote wins)."""

    def __init__(self, front: LmPredictor) -> None:
        self.front = front

    @property  # a class attribute of other backends: the front door's class's, if it has one
    def provider(self) -> str:  # type: ignore[override]
        return str(getattr(type(self.front), "provider", "unknown"))

    @property
    def cache_default(self) -> bool:
        return self.front.cache_default

    @cache_default.setter
    def cache_default(self, value: bool) -> None:
        self.front.cache_default = value

    def model_identity(self) -> dict[str, Any]:
        return identity_018(self.front)

    def _predict_samples(self, prompt: LmPrompt, n: int) -> list[LmPrediction]:
        return samples_018(self.front, prompt, n)

    def _theirs(self, name: str) -> Any:
        """The front door's own `name` (a method bound, a property's value), or None."""
        for klass in type(self.front).__mro__:
            if klass is LmPredictor:
                return None
            if name in vars(klass):
                return getattr(self.front, name)
        return None

    def model_name(self) -> str:
        own = self._theirs("model_name")
        return str(own()) if own is not None else super().model_name()

    def estimate_tokens_in_prompt(self, prompt: LmPrompt) -> int:
        own = self._theirs("estimate_tokens_in_prompt")
        return int(own(prompt)) if own is not None else super().estimate_tokens_in_prompt(prompt)

    def tokenize(self, input_str: str) -> list[str]:
        own = self._theirs("tokenize")
        return list(own(input_str)) if own is not None else super().tokenize(input_str)

    @property
    def token_limit(self) -> int:
        own = self._theirs("token_limit")
        return int(own) if own is not None else super().token_limit

    @property
    def is_chat_model(self) -> bool:
        own = self._theirs("is_chat_model")
        return bool(own) if own is not None else super().is_chat_model

    @property
    def supports_token_operations(self) -> bool:
        return bool(self._theirs("supports_token_operations"))

    @property
    def supports_prefilled_chat(self) -> bool:
        return bool(self._theirs("supports_prefilled_chat"))

    @property
    def reasoning_style(self) -> LmReasoningStyle:
        own = self._theirs("reasoning_style")
        return own if isinstance(own, LmReasoningStyle) else LmReasoningStyle.UNKNOWN


# -- the cache -------------------------------------------------------------------------------

def remove_prompt_from_cache(lm: LmPredictor, prompt: LmPrompt | str) -> bool:
    """Delete every cached sample of `prompt` for `lm`; True if there was any."""
    key = prompt_key(as_prompt(prompt).canonical(), lm.identity_json())
    return lm.cache.delete_key(key) > 0


def clear_cache(directory: str | os.PathLike[str] | None) -> int:
    """Delete every row of the cache file in `directory` (default: the cache dir); how many."""
    directory = directory if directory is not None else get_cache_dir()
    if not os.path.exists(os.path.join(directory, CACHE_FILE_NAME)):
        return 0  # nothing cached yet: do not create a file just to empty it
    return get_cache(directory).clear()


# -- LmPredictor's 0.18 methods --------------------------------------------------------------

class PredictorCompat018:
    """0.18's methods of `LmPredictor`, lent to it by `install()`."""

    if TYPE_CHECKING:
        def identity_json(self) -> str: ...
        @property
        def token_limit(self) -> int: ...

    def remove_prompt_from_cache(self, prompt: LmPrompt | str) -> bool:
        """Forget every cached sample of `prompt` for this model; True if any was cached."""
        return remove_prompt_from_cache(cast("LmPredictor", self), prompt)

    def get_model_cache_key(self) -> str:
        """The model's part of every cache key (its identity, as canonical JSON)."""
        return self.identity_json()

    @property
    def default_tokens_generated(self) -> int | None:
        """0.18's prompt-independent default for `max_tokens=None` (`token_limit // 16`);
        what a given prompt gets is `default_max_tokens(prompt)`."""
        try:
            return self.token_limit // 16
        except NotImplementedError:
            return None

    def remove_special_chars_from_tokens(self, tokens: Sequence[str]) -> list[str]:
        """Token strings as text. Ours already are text (no "Ġ" for a space), so unchanged."""
        return list(tokens)

    def configure_global_ratelimit(self, max_count: int = 1, per_seconds: float = 1,
                                   greedy: bool = False) -> None:
        """0.18's client-side request cap: accepted, with a warning, and not applied."""
        warn("configure_global_ratelimit() is not needed and has no effect: lmwrapper paces "
             "requests by the limits the provider reports (rate-limit headers, Retry-After) "
             "and retries 429s. To send fewer requests at once, pass max_concurrency= to the "
             "model's factory.")


def install() -> None:
    """Lend `PredictorCompat018` to `LmPredictor`; register the adapters the front door and
    the factories call."""
    extend.lend(LmPredictor, PredictorCompat018)
    extend.install("predictor_backend", Backend018)
    extend.install("openai_factory_args", openai_factory_args)
    extend.install("hf_factory_args", hf_factory_args)
    extend.install("hf_prompt_trimmer", hf_prompt_trimmer)
