"""A device torch cannot use, or a model folder that cannot load: one clear ConfigurationError,
raised by `get_huggingface_lm` itself (before any prompt), naming what was found and the fix."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from lmwrapper import ConfigurationError


def load(path, **kwargs):
    from lmwrapper.huggingface_wrapper import get_huggingface_lm

    return get_huggingface_lm(str(path), **kwargs)


def test_cuda_that_torch_cannot_use_is_a_configuration_error(tiny_dir):
    import torch

    if torch.cuda.is_available():  # then ask for a GPU one past the last
        n = torch.cuda.device_count()
        with pytest.raises(ConfigurationError, match=rf"{n} CUDA device\(s\) visible.*'cpu'"):
            load(tiny_dir, device=f"cuda:{n}")
        return
    with pytest.raises(ConfigurationError) as info:
        load(tiny_dir, device="cuda")
    message = str(info.value)
    assert "CUDA is not available" in message and torch.__version__ in message
    assert "device='cpu'" in message


def test_mps_where_unavailable_is_a_configuration_error(tiny_dir):
    import torch

    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(ConfigurationError, match="MPS is not available.*device='cpu'"):
        load(tiny_dir, device="mps")


def test_an_unknown_device_names_the_setting_it_came_from(tiny_dir, monkeypatch):
    with pytest.raises(ConfigurationError, match="device='tpu'.*'cuda:N'"):
        load(tiny_dir, device="tpu")
    monkeypatch.setenv("LMWRAPPER_HF_DEVICE", "gpu")
    with pytest.raises(ConfigurationError, match=r"\$LMWRAPPER_HF_DEVICE='gpu'.*unset"):
        load(tiny_dir)


@pytest.fixture
def copy(tiny_dir, tmp_path):
    """A writable copy of the tiny model's folder, to break."""
    d = tmp_path / "model"
    shutil.copytree(tiny_dir, d)
    return d


def raises_naming(folder, *fragments):
    with pytest.raises(ConfigurationError) as info:
        load(folder)
    message = str(info.value)
    assert str(folder) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_an_empty_folder(tmp_path):
    raises_naming(tmp_path, "is empty", "save_pretrained")


@pytest.mark.parametrize("removed, says", [
    (["config.json"], ["no config.json"]),
    (["model.safetensors"], ["no weights (model.safetensors or pytorch_model.bin)"]),
    (["tokenizer.json"], ["no tokenizer files"]),
    (["config.json", "model.safetensors", "tokenizer.json"],
     ["no config.json", "no weights", "no tokenizer files", "it holds: chat_template.jinja"]),
])
def test_a_half_written_folder_names_what_is_missing(copy, removed, says):
    for name in removed:
        (copy / name).unlink()
    message = raises_naming(copy, "is incomplete", *says)
    assert "save_pretrained" in message  # and what to do


def test_a_truncated_weights_file_is_found_before_any_prompt(copy):
    weights = copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    raises_naming(copy, f"model.safetensors is truncated ({len(data) // 2} of {len(data)} bytes)")


def test_a_sharded_folder_with_a_missing_shard(copy):
    (copy / "model.safetensors").rename(copy / "model-00001-of-00002.safetensors")
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                            "b": "model-00002-of-00002.safetensors"}}
    (copy / "model.safetensors.index.json").write_text(json.dumps(index))
    raises_naming(copy, "1 of the 2 weight shards", "model-00002-of-00002.safetensors")


def test_a_broken_config(copy):
    (copy / "config.json").write_text('{"model_type": "gpt2", ')
    raises_naming(copy, "config.json is not valid JSON")


def test_a_gguf_path_or_a_wrong_gguf_name_says_how_to_pass_it(tmp_path):
    gguf = tmp_path / "m.Q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ConfigurationError, match=re.escape(f"gguf_file='{gguf.name}'")):
        load(gguf)
    with pytest.raises(ConfigurationError, match=r"gguf_file='other.gguf'.*m\.Q8_0\.gguf"):
        load(tmp_path, gguf_file="other.gguf")
