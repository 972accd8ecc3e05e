"""Where the suite keeps the converted SmolLM2: made once per machine, never in the repository
and never in the user's own models directory.

`make test` used to convert a second 517 MB copy into `<repo>/cache/models` (which then
shadowed the user's `~/.cache/lmwrapper/models`). The root conftest now points
`$LMWRAPPER_MODELS_DIR` at `suite_models_dir()` before any test runs, so every test, and every
subprocess a test starts, reads and writes the model there:

    $LMWRAPPER_TEST_MODELS_DIR, else $XDG_CACHE_HOME/lmwrapper/test-models
    (~/.cache/lmwrapper/test-models)

It is shared by every checkout and every run on the machine, so the slow conversion (~30 s
plus a 93 MB download) happens once. When it lacks the model but a finished copy exists
elsewhere (the user's models directory, an older checkout's `cache/models`), that copy's files
are hard-linked in (copied across file systems): nothing is written into the copy itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

TEST_MODELS_ENV = "LMWRAPPER_TEST_MODELS_DIR"
REPO = Path(__file__).resolve().parents[1]


def suite_models_dir() -> Path:
    if os.environ.get(TEST_MODELS_ENV):
        return Path(os.environ[TEST_MODELS_ENV])
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "lmwrapper" / "test-models"


def _finished(folder: Path) -> bool:
    return (folder / "config.json").exists() and (folder / "model.safetensors").exists()


def _existing_copies(name: str) -> list[Path]:
    """Finished converted folders outside the suite's directory, most likely first."""
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    places = [os.environ.get("LMWRAPPER_MODELS_DIR"), str(Path(home) / "lmwrapper" / "models"),
              str(REPO / "cache" / "models")]
    return [Path(p) / name for p in places if p and _finished(Path(p) / name)]


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def prepare(name: str) -> Path:
    """The suite's models directory, with `name` linked in from an existing copy if it has
    none yet (into a temporary folder renamed into place: a killed run leaves nothing that
    looks finished, and two runs at once both end with one whole folder)."""
    target_dir = suite_models_dir()
    target = target_dir / name
    if _finished(target):
        return target_dir
    copies = _existing_copies(name)
    if not copies:
        return target_dir  # the first test that needs the model converts it here, once
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target_dir, prefix=f".{name}-"))
    try:
        for f in copies[0].iterdir():
            if f.is_file():
                _link_or_copy(f, tmp / f.name)
        os.replace(tmp, target)
    except OSError:  # another run put it there first
        shutil.rmtree(tmp, ignore_errors=True)
    return target_dir
