"""The install surface: light import, pyproject and environment.yml in step, the CLI entry."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_import_lmwrapper_stays_light():
    code = ("import sys, lmwrapper, lmwrapper.structs, lmwrapper.batch_config; "
            "heavy = [m for m in ('torch', 'transformers', 'openai', 'anthropic', 'tiktoken', "
            "'numpy', 'sqlite_utils', 'aiohttp') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in reqs if not r.startswith("lmwrapper")}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted


def test_public_api_is_declared():
    import lmwrapper

    for name in lmwrapper.__all__:
        assert hasattr(lmwrapper, name), name


def test_the_version_is_written_once_and_the_cli_prints_it():
    """1.0.0, above lmwrapper 0.18 on PyPI (this project is its successor, so pip must prefer
    it); lmwrapper/_version.py is the only place it is written."""
    import lmwrapper
    from lmwrapper._version import __version__

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "lmwrapper._version.__version__"}
    assert lmwrapper.__version__ == __version__
    assert tuple(int(p) for p in __version__.split(".")[:2]) > (0, 18)
    out = subprocess.run([sys.executable, "-m", "lmwrapper", "--version"], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    assert out.stdout == f"lmwrapper {__version__}\n"


def test_the_changelog_has_a_section_for_this_version():
    from lmwrapper import __version__

    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$",
                     (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
