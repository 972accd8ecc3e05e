"""Checks on a local model folder before anything loads from it.

An empty folder, or one a download or `save_pretrained` left half-written, otherwise fails
deep inside `transformers` (or, for a truncated weights file, only at the first prediction)
with a message that names neither the folder nor the missing file. Here the error says
which folder, what is missing or cut short, and what to do.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from lmwrapper.core.errors import ConfigurationError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# Any one of these is a tokenizer's vocabulary (fast tokenizer, SentencePiece, BPE, WordPiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "vocab.json", "vocab.txt")
FIX = ("Save it again (model.save_pretrained(folder) and tokenizer.save_pretrained(folder)) "
       "or download it again, then retry")


def check_model_folder(path: Path, gguf_file: str | None) -> None:
    """Raise `ConfigurationError` naming `path` and what it lacks, if it cannot be loaded."""
    if path.is_file():
        raise ConfigurationError(_file_not_folder(path))
    if gguf_file is not None:
        _check_gguf(path, gguf_file)
        return
    names = sorted(p.name for p in path.iterdir())
    if not names:
        raise ConfigurationError(f"model folder {path} is empty. Pass a folder saved with "
                                 f"save_pretrained (config.json, weights, tokenizer files). {FIX}.")
    problems = _config_problems(path) + _weight_problems(path) + _tokenizer_problems(path)
    if problems:
        shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        raise ConfigurationError(
            f"model folder {path} is incomplete: {'; '.join(problems)} (it holds: {shown}). "
            f"It looks like a download or save that did not finish. {FIX}.")


def _file_not_folder(path: Path) -> str:
    if path.suffix == ".gguf":
        return (f"{path} is a GGUF file: pass its folder and the file name, "
                f"get_huggingface_lm({str(path.parent)!r}, gguf_file={path.name!r})")
    return f"{path} is a file; pass the model's folder (the one holding config.json)"


def _check_gguf(path: Path, gguf_file: str) -> None:
    if (path / gguf_file).is_file():
        return
    present = sorted(p.name for p in path.glob("*.gguf"))
    raise ConfigurationError(
        f"gguf_file={gguf_file!r} is not in model folder {path} (GGUF files there: "
        f"{', '.join(present) or 'none'}); pass the name of one of its files")


def _config_problems(path: Path) -> list[str]:
    config = path / "config.json"
    if not config.is_file():
        return ["no config.json (the model's architecture)"]
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        return [f"config.json is not valid JSON ({e})"]
    return []


def _weight_problems(path: Path) -> list[str]:
    for index in WEIGHT_INDEXES:
        if (path / index).is_file():
            return _shard_problems(path, index)
    weights = [path / n for n in WEIGHT_FILES if (path / n).is_file()]
    weights += [p for p in path.glob("*.safetensors") if p not in weights]
    if not weights:
        return [f"no weights ({' or '.join(WEIGHT_FILES)})"]
    return [p for w in weights if w.suffix == ".safetensors" for p in _safetensors_problems(w)]


def _shard_problems(path: Path, index: str) -> list[str]:
    try:
        shards = sorted(set(json.loads((path / index).read_text())["weight_map"].values()))
    except (ValueError, KeyError, AttributeError) as e:
        return [f"{index} is not a valid weight index ({e!r})"]
    missing = [s for s in shards if not (path / s).is_file()]
    if missing:
        named = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        return [f"{len(missing)} of the {len(shards)} weight shards in {index} are missing ({named})"]
    return [p for s in shards if s.endswith(".safetensors")
            for p in _safetensors_problems(path / s)]


def _safetensors_problems(file: Path) -> list[str]:
    """A safetensors file is an 8-byte header length, a JSON header giving each tensor's byte
    range, then the data: a file shorter than its last range was cut short while written."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if 8 + length > size:
                raise ValueError("header runs past the end of the file")
            header = json.loads(fh.read(length))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"),
                  default=0)
    except (ValueError, struct.error, KeyError, TypeError, IndexError):
        return [f"{file.name} is not a valid safetensors file ({size} bytes)"]
    if 8 + length + end > size:
        return [f"{file.name} is truncated ({size} of {8 + length + end} bytes)"]
    return []


def _tokenizer_problems(path: Path) -> list[str]:
    if any((path / n).is_file() for n in TOKENIZER_FILES):
        return []
    if any(path.glob("*.model")) or any(path.glob("*.tiktoken")):  # other vocabulary formats
        return []
    return [f"no tokenizer files (any one of {', '.join(TOKENIZER_FILES)})"]
