"""What lets a script written for lmwrapper 0.18 run unchanged (see README, "Coming from 0.18").

The 0.18 names live where 0.18 had them (`lmwrapper.compat018.caching`, `lmwrapper.compat018.runtime`,
`LmPredictor.tokenize`, ...); this module holds the logic behind them, so the core classes
only gain thin, clearly marked blocks:

- `openai_factory_args` / `hf_factory_args`: 0.18 factory arguments, honoured where they
  mean something here, otherwise accepted with a `Lmwrapper018Warning` or refused with the
  reason (never an unexpected-keyword `TypeError`);
- `remove_prompt_from_cache`, 0.18 `LmPredictor` subclasses, pickling state (0.18's names
  on `LmPrompt` / `LmPrediction` are in `lmwrapper.compat018.values`);
- fork safety: 0.18 users hand predictors to `multiprocessing`, whose default on Linux is
  fork(); a forked child drops the SQLite and HTTP handles it would share with its parent.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmwrapper.core.prompt import LmPrediction, LmPrompt
    from lmwrapper.engine.predictor import LmPredictor


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
    (`prompt_trimmer` is honoured by `huggingface_wrapper.trimming`.)
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
    from lmwrapper.engine.predictor import LmPredictor

    if type(lm).get_model_cache_key is LmPredictor.get_model_cache_key:
        raise NotImplementedError(
            f"{type(lm).__name__} must implement model_identity(): a dict of what changes its "
            "outputs (provider, model name, version, ...), which keys its cache entries")
    return {"provider": lm.provider, "model": str(lm.get_model_cache_key())}


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


# -- the cache -------------------------------------------------------------------------------

def remove_prompt_from_cache(lm: LmPredictor, prompt: LmPrompt | str) -> bool:
    """Delete every cached sample of `prompt` for `lm`; True if there was any."""
    from lmwrapper.engine.plan import as_prompt
    from lmwrapper.store.keys import prompt_key

    key = prompt_key(as_prompt(prompt).canonical(), lm.identity_json())
    return lm.cache.delete_key(key) > 0


def clear_cache(directory: str | os.PathLike[str] | None) -> int:
    """Delete every row of the cache file in `directory` (default: the cache dir); how many."""
    from lmwrapper.store.db import CACHE_FILE_NAME, get_cache, get_cache_dir

    directory = directory if directory is not None else get_cache_dir()
    if not os.path.exists(os.path.join(directory, CACHE_FILE_NAME)):
        return 0  # nothing cached yet: do not create a file just to empty it
    return get_cache(directory).clear()


# -- pickling ------------------------------------------------------------------------------

def predictor_state(lm: LmPredictor, drop: Sequence[str] = ()) -> dict[str, Any]:
    """`lm.__dict__` without what cannot or must not travel: the open cache handle (rebuilt
    lazily on first use) and the attributes named in `drop` (set to None)."""
    state = dict(lm.__dict__)
    state["_cache"] = None
    for name in drop:
        if name in state:
            state[name] = None
    return state


# -- fork safety ---------------------------------------------------------------------------

_live: weakref.WeakSet[Any] = weakref.WeakSet()  # every predictor of this process
# Handles a forked child inherited from its parent. Kept referenced, never used or closed:
# closing them could disturb the parent (SQLite's file locks, a shared socket).
_inherited: list[Any] = []


def track(lm: LmPredictor) -> None:
    _live.add(lm)


def inherit(*handles: Any) -> None:
    _inherited.extend(h for h in handles if h is not None)


def _after_fork_in_child() -> None:
    """In a fork()ed child, forget the parent's SQLite connections, HTTP clients and locks.

    Used from several processes at once, an inherited keep-alive socket interleaves their
    requests (garbled bodies, a 400 cached as an error, reads that never return) and an
    inherited SQLite connection shares file locks it must not. Each predictor reopens what
    it needs on first use, as an unpickled one does.
    """
    if "lmwrapper.store.db" in sys.modules:  # (importing it here would be wasted work)
        from lmwrapper.store import db as sqlcache

        inherit(*sqlcache._open_caches.values())
        sqlcache._open_caches.clear()
        sqlcache._open_lock = threading.Lock()  # a parent thread may have held it at fork
    if "lmwrapper.runners.ratelimit" in sys.modules:
        from lmwrapper.runners import ratelimit

        ratelimit._shared.clear()
        ratelimit._shared_lock = threading.Lock()
    for lm in list(_live):
        lm._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
