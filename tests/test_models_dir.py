"""The suite never converts SmolLM2 into the repository or the user's models directory."""

import os
from pathlib import Path

from models_dir import REPO, prepare

from lmwrapper.providers.huggingface import smollm2


def test_the_suite_models_dir_is_outside_the_repo_and_apart_from_the_users():
    suite = Path(os.environ["LMWRAPPER_MODELS_DIR"]).resolve()
    assert REPO.resolve() not in suite.parents and suite != REPO.resolve()
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    assert suite != (Path(home) / "lmwrapper" / "models").resolve()
    assert smollm2.models_dir(REPO / "cache") == Path(os.environ["LMWRAPPER_MODELS_DIR"])


def test_an_existing_copy_is_linked_in_once_and_left_untouched(tmp_path, monkeypatch):
    user = tmp_path / "user-models" / "m"
    user.mkdir(parents=True)
    (user / "config.json").write_text("{}")
    (user / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(user.parent))
    monkeypatch.setenv("LMWRAPPER_TEST_MODELS_DIR", str(tmp_path / "suite"))
    assert prepare("m") == tmp_path / "suite"
    linked = tmp_path / "suite" / "m" / "model.safetensors"
    assert linked.read_bytes() == b"weights"
    assert os.path.samestat(linked.stat(), (user / "model.safetensors").stat())  # no 2nd copy
    assert prepare("m") == tmp_path / "suite"  # already there: nothing done
    assert sorted(p.name for p in (tmp_path / "suite").iterdir()) == ["m"]  # no leftovers
    assert sorted(p.name for p in user.iterdir()) == ["config.json", "model.safetensors"]


def test_without_any_copy_the_suite_dir_is_only_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LMWRAPPER_MODELS_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LMWRAPPER_TEST_MODELS_DIR", str(tmp_path / "suite"))
    assert prepare("no-such-model") == tmp_path / "suite"
    assert not (tmp_path / "suite").exists()  # the first test that needs it converts there
