"""Users and tests import the public surface; only declared white-box tests reach inside.

The public surface is what the API reference documents (docs/reference/*.md: `lmwrapper`'s
`__all__`, the provider modules, `lmwrapper.tools`, `lmwrapper.testing`), the console
script named in pyproject.toml, and lmwrapper 0.18's import paths. The layer packages
(`scripts/structure.py`'s `INTERNAL`: core, store, engine, runners, providers, cli,
compat018) and `_modules` are internal. So (docs/architecture.md, "Public and internal"):

- a name the public surface has is imported from there, by every test;
- a test file imports an internal module only where `WHITE_BOX` below says why, and only
  the modules named there (the lists only shrink);
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

# Test files that test internals on purpose: a glob from the repository root, why, and the
# internal modules (below `lmwrapper.`; a glob) those files may import. A white-box file that
# imports a module not named for it fails, and so does a module named that none imports: the
# lists only shrink, and a new internal import is a line here, seen in review.
WHITE_BOX: dict[str, tuple[str, tuple[str, ...]]] = {
    "tests/openai/*": (
        ("OpenAI's request bodies, model rules, token counts and errors, checked against the "
         "SDK's types and the OpenAPI spec: a provider's translation"),
        ("providers.openai.backend", "providers.openai.background", "providers.openai.models",
         "providers.openai.request", "providers.openai.rules", "providers.openai.tokens",
         "core.contract", "core.models", "core.money", "core.prompt", "engine.plan",
         "runners.live", "runners.ratelimit", "runners.batch.runner", "cli.batch", "cli.run")),
    "tests/claude/*": (
        "Claude's request bodies, rules and batch adapter against the SDK's types",
        ("providers.anthropic.batch", "providers.anthropic.models", "providers.anthropic.request",
         "providers.anthropic.rules", "core.money", "core.prompt", "runners.batch.planner",
         "runners.ratelimit")),
    "tests/huggingface/*": (
        ("generation rows, stopping, prefill and prompt encoding, compared with plain "
         "transformers calls"),
        ("providers.huggingface.*", "core.contract", "engine.plan")),
    "tests/batching/*": (
        "the batch engine's planner, records, settings and runner, crash by crash",
        ("runners.batch", "runners.batch.adapter", "runners.batch.planner",
         "runners.batch.progress", "runners.batch.runner", "runners.batch.settings",
         "store.batch_records", "store.db", "core.contract", "providers.registry",
         "providers.classify", "providers.anthropic.errors", "providers.openai.request")),
    "tests/scale/*": (("the cache file at scale: merge internals, rows read back, filesystems; "
                       "the suite's SmolLM2 GGUF (smollm2)"),
                      ("store.db", "store.fsinfo", "store.merge", "providers.huggingface.smollm2")),
    "tests/compat/*": ("0.18's adapters and encodings, which exist only in compat018",
                       ("compat018.hooks", "providers.openai.tokens")),
    "tests/evals/*": ("structured-answer helpers, the rows a scoring run cached, tiktoken's tokens",
                      ("core.structured", "store.db", "providers.openai.tokens")),
    "tests/conftest.py": ("finds the SmolLM2 model the way the provider does (smollm2)",
                          ("providers.huggingface.*",)),
    "tests/test_models_dir.py": ("where the provider looks for SmolLM2 (smollm2)",
                                 ("providers.huggingface.*",)),
    "tests/test_cache_*.py": ("the store: keys, rows, the file, lookups at scale",
                              ("store.db", "store.keys", "runners.batch.adapter",
                               "runners.batch.planner")),
    "tests/test_cached_rows.py": ("the row codec's lazily read records", ("store.rows",)),
    "tests/test_store_faults.py": ("the store when its file or lock fails", ("store.db",)),
    "tests/test_live_*.py": ("the live runner, its transport, claims, pauses and gc",
                             ("runners.live", "runners.transport", "core.contract",
                              "core.gcpause", "engine.plan", "store.claims", "store.db")),
    "tests/test_transport_faults.py": ("the aiohttp transport under wire faults",
                                       ("runners.transport",)),
    "tests/test_ratelimit_shared.py": ("the rate limiter's state shared between processes",
                                       ("runners.ratelimit",)),
    "tests/test_api_backend.py": ("error classification and the provider base class",
                                  ("providers.base", "providers.predictor",
                                   "providers.openai.errors", "providers.anthropic.errors",
                                   "core.contract", "runners.live")),
    "tests/test_engine*.py": ("the plan, the runners it picks, claims and trust of base URLs",
                              ("engine.plan", "engine.backend", "core.contract", "runners.live",
                               "store.claims", "store.db")),
    "tests/test_front_door.py": ("LmPredictor holding an LmBackend written alone",
                                 ("engine.backend",)),
    "tests/test_cli_*.py": (("the CLI's own parsing, dry runs and the cache rows it reads; "
                             "where SmolLM2 is looked for (smollm2)"),
                            ("cli.main", "cli.run", "cli.jsonline", "core.prompt",
                             "engine.plan", "providers.registry", "store.db",
                             "providers.huggingface.smollm2")),
    "tests/test_model_facts.py": (
        "the model facts' sources: genai-prices, SDK lists, models.toml",
        ("core.models", "core.money", "providers.openai.models", "providers.anthropic.models",
         "providers.anthropic.request")),
    "tests/test_model_not_found.py": (
        "the 'did you mean' hint and the SDKs' shutdown dates",
        ("core.models", "providers.openai.models", "providers.anthropic.models", "engine.plan")),
    "tests/test_size_limits.py": (
        "each provider's size limits and token counts",
        ("core.limits", "providers.openai.models", "providers.anthropic.models",
         "providers.openai.tokens")),
    "tests/test_reasoning_values.py": ("the core's effort and thinking values against the SDKs'",
                                       ("core.prompt",)),
    "tests/test_provider_folders.py": (
        ("the registry: every provider's folder and fake; internal modules the provider "
         "modules must not reach"),
        ("providers.registry", "providers.openai.models", "providers.huggingface.smollm2")),
    "tests/test_packaging.py": ("lmwrapper/_version.py is the one place the version is written",
                                ("_version",)),
    "tests/test_words.py": ("the plural helper every message uses", ("core.words",)),
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
    """The WHITE_BOX glob a test file falls under (the first that matches), if any."""
    return next((glob for glob in WHITE_BOX if fnmatch.fnmatch(path, glob)), None)


def _named(module: str, glob: str) -> str | None:
    """The pattern of `glob`'s WHITE_BOX entry that allows `module`, if any."""
    return next((p for p in WHITE_BOX[glob][1] if fnmatch.fnmatch(module, f"lmwrapper.{p}")),
                None)


def _white_box_imports() -> dict[str, list[tuple[str, str]]]:
    """Per WHITE_BOX glob: (test file, internal module) for each internal import under it."""
    found: dict[str, list[tuple[str, str]]] = {glob: [] for glob in WHITE_BOX}
    for where, hits in _internal_imports().items():
        glob = _white_box(where) if where.startswith("tests/") else None
        if glob is not None:
            found[glob] += [(where, module) for module, _, _ in hits]
    return found


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


def test_white_box_tests_import_only_the_internal_modules_named_for_them():
    unnamed = sorted({f"{where}: {module} (not named in WHITE_BOX[{glob!r}])"
                      for glob, hits in _white_box_imports().items()
                      for where, module in hits if _named(module, glob) is None})
    assert unnamed == [], (
        "test through the public surface (see docs/reference), or name the module in the "
        "file's WHITE_BOX entry, with its reason:\n" + "\n".join(unnamed))


def test_every_white_box_entry_and_module_is_still_needed():
    """The lists only shrink: a glob no test file with internal imports matches, or a module
    pattern none of its files imports, is taken out."""
    found = _white_box_imports()
    stale = [glob for glob, hits in found.items() if not hits]
    stale += [f"{glob}: {pattern}" for glob, hits in found.items() if hits
              for pattern in WHITE_BOX[glob][1]
              if not any(_named(module, glob) == pattern for _, module in hits)]
    assert stale == [], "no longer imported; take them out of WHITE_BOX:\n" + "\n".join(stale)


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
    assert _white_box("tests/claude/test_claude_batch.py") == "tests/claude/*"
    assert _named("lmwrapper.store.db", "tests/test_store_faults.py") == "store.db"
    assert _named("lmwrapper.store.keys", "tests/test_store_faults.py") is None
    assert _named("lmwrapper.providers.huggingface.generation", "tests/huggingface/*")

