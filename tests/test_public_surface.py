"""Users and tests import the public surface; only declared white-box tests reach inside.

The public surface is what the API reference documents (docs/reference/*.md: `lmwrapper`'s
`__all__`, the provider modules, `lmwrapper.tools`, `lmwrapper.testing`), the console
script named in pyproject.toml, and lmwrapper 0.18's import paths. The layer packages
(`scripts/structure.py`'s `INTERNAL`: core, store, engine, runners, providers, cli,
compat018) and `_modules` are internal. So (docs/architecture.md, "Public and internal"):

- a name the public surface has is imported from there, by every test;
- a test file imports an internal module only where `WHITE_BOX` below says why;
- the docs' examples import only the public surface, and the user pages name no internal
  module as something to call.

`python scripts/structure.py --public` lists what tests take from internal modules.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Test files that test internals on purpose (a glob from the repository root, and why).
WHITE_BOX = {
    "tests/openai/*": "OpenAI's request bodies, model rules, token counts and errors, checked "
                      "against the SDK's types and the OpenAPI spec: a provider's translation",
    "tests/claude/*": "Claude's request bodies, rules and batch adapter against the SDK's types",
    "tests/huggingface/*": "generation rows, stopping, prefill and prompt encoding, compared with "
                           "plain transformers calls",
    "tests/batching/*": "the batch engine's planner, records, settings and runner, crash by crash",
    "tests/scale/*": "the cache file at scale: merge internals, rows read back, filesystems",
    "tests/compat/*": "0.18's adapters and encodings, which exist only in compat018",
    "tests/evals/*": "structured-answer helpers and the rows a scoring run cached",
    "tests/conftest.py": "finds the SmolLM2 model the way the provider does (smollm2)",
    "tests/test_models_dir.py": "where the provider looks for SmolLM2 (smollm2)",
    "tests/test_cache_*.py": "the store: keys, rows, the file, lookups at scale",
    "tests/test_cached_rows.py": "the row codec's lazily read records (store.rows.records)",
    "tests/test_store_faults.py": "the store when its file or lock fails",
    "tests/test_live_*.py": "the live runner, its transport, claims, pauses and gc",
    "tests/test_transport_faults.py": "the aiohttp transport under wire faults",
    "tests/test_ratelimit_shared.py": "the rate limiter's state shared between processes",
    "tests/test_api_backend.py": "error classification and the provider base class",
    "tests/test_engine*.py": "the plan, the runners it picks, claims and trust of base URLs",
    "tests/test_front_door.py": "LmPredictor holding an LmBackend written alone",
    "tests/test_cli_*.py": "the CLI's own parsing, dry runs and the cache rows it reads",
    "tests/test_model_facts.py": "the model facts' sources: genai-prices, SDK lists, models.toml",
    "tests/test_model_not_found.py": "the 'did you mean' hint and the SDKs' shutdown dates",
    "tests/test_size_limits.py": "each provider's size limits and token counts",
    "tests/test_reasoning_values.py": "the core's effort and thinking values against the SDKs'",
    "tests/test_provider_folders.py": "the registry: every provider's folder and fake",
    "tests/test_packaging.py": "lmwrapper/_version.py is the one place the version is written",
    "tests/test_words.py": "the plural helper every message uses",
}
# The page about the layout names modules inside; the user pages may name a layer package
# (`lmwrapper.store`: "internal") but no module in it.
LAYOUT_PAGES = {"docs/architecture.md"}


@functools.cache
def _structure():  # scripts/ is not a package: load the script itself
    spec = importlib.util.spec_from_file_location("structure", ROOT / "scripts" / "structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _literal_all(module: str) -> set[str]:
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = re.search(r"^__all__ = \[(.*?)\]", path.read_text(), re.DOTALL | re.MULTILINE)
    return set(re.findall(r'"(\w+)"', found.group(1))) if found else set()


def public_names() -> dict[str, set[str]]:
    """The names each public module documents (docs/reference/*.md): a `members:` list, or
    the module's `__all__` when the page renders it whole. A class rendered from its
    internal home (the lazy Hugging Face classes) counts for the page's first module."""
    names: dict[str, set[str]] = {}
    structure = _structure()
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        first = None
        for target, members in re.findall(r"^::: ([\w.]+)\n((?:[ \t]+.*\n)*)", page.read_text(),
                                          re.MULTILINE):
            listed = set(re.findall(r"^\s+- (\w+)$", members, re.MULTILINE))
            if structure.internal(target):
                names.setdefault(first or target, set()).add(target.rpartition(".")[2])
                continue
            first = first or target
            names.setdefault(target, set()).update(listed or _literal_all(target))
    names.setdefault("lmwrapper", set()).update(_literal_all("lmwrapper"))
    return names


@functools.cache
def _internal_imports() -> dict[str, list[tuple[str, str, bool]]]:
    structure = _structure()
    return structure.internal_imports(set(structure.modules()))[0]


def _white_box(path: str) -> str | None:
    return next((why for glob, why in WHITE_BOX.items() if fnmatch.fnmatch(path, glob)), None)


def test_public_names_are_imported_from_the_public_surface():
    public = {name: module for module, names in public_names().items() for name in names}
    wrong = [f"{where}: import {name} from {public[name]}, not {module}"
             for where, hits in _internal_imports().items()
             for module, name, _ in hits if name in public]
    assert wrong == [], "\n".join(wrong)


def test_only_declared_white_box_tests_import_internal_modules():
    undeclared = [f"{where}: {module}" + ("" if name == "*" else f".{name}")
                  for where, hits in _internal_imports().items()
                  if where.startswith("tests/") and _white_box(where) is None
                  for module, name, _ in hits]
    assert undeclared == [], (
        "these tests import internal modules; test through the public surface (see "
        "docs/reference), or add the file to WHITE_BOX with the reason:\n" + "\n".join(undeclared))


def test_every_white_box_entry_is_still_needed():
    users = [where for where in _internal_imports() if where.startswith("tests/")]
    stale = [glob for glob in WHITE_BOX if not any(fnmatch.fnmatch(u, glob) for u in users)]
    assert stale == []


def test_the_docs_examples_import_only_the_public_surface():
    assert {w: h for w, h in _internal_imports().items() if not w.startswith("tests/")} == {}


def test_the_user_pages_send_no_one_into_an_internal_module():
    structure = _structure()
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    named = [f"{page.relative_to(ROOT)}: `{span}`" for page in pages
             if str(page.relative_to(ROOT)) not in LAYOUT_PAGES
             for span in re.findall(r"`(lmwrapper\.\w+\.[\w.]+)", page.read_text())
             if structure.internal(span)]
    assert named == []


def test_the_guard_sees_internal_imports():
    """The checks above check: a function-level import of an internal module is found, and a
    public module, a 0.18 path and the console script are not internal."""
    structure = _structure()
    code = "def f():\n    from lmwrapper.store.db import get_cache\nfrom lmwrapper import LmPrompt\n"
    hits = [h for h in structure.imported_names(code, set(structure.modules()))
            if structure.internal(h[0])]
    assert hits == [("lmwrapper.store.db", "get_cache", True)]
    assert not any(structure.internal(m) for m in (
        "lmwrapper", "lmwrapper.tools.sharding", "lmwrapper.structs", "lmwrapper.testing.server"))
    assert structure.internal("lmwrapper._version")
    assert ("lmwrapper.cli.main", "main") in structure.entry_points()
    assert {"LmPrompt", "RetryPolicy"} <= public_names()["lmwrapper"]
    assert "merge_caches" in public_names()["lmwrapper.tools.sharding"]
    assert "HuggingFacePredictor" in public_names()["lmwrapper.huggingface_wrapper"]
