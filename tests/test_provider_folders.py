"""A provider is its folder: what one provider knows appears nowhere else in the package.

A new provider (say Gemini with its batch API) touches `providers/<name>/`, one line in
`providers/registry.py`, its fake `testing/providers/<name>.py` and its packaging extra
(docs/architecture.md, "Adding a provider"). These tests fail when a fact of one provider — a
header it sends, its key's shape, its URL, its key variable — or an import of its package
turns up in shared code, which is where the next provider would have to edit too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import lmwrapper
from lmwrapper.providers.registry import PROVIDERS

PACKAGE = Path(lmwrapper.__file__).parent

# Strings only one provider sends or reads (docstrings and comments may name them: they
# explain, they decide nothing). The shared defaults — `x-ratelimit-*`, `retry-after-ms`,
# `Authorization: Bearer`, which most OpenAI-compatible servers send too — are not here.
MARKERS = {
    "anthropic": ("anthropic-ratelimit", "anthropic-version", "x-api-key", "sk-ant",
                  "api.anthropic.com", "ANTHROPIC_API_KEY", "/v1/messages"),
    "openai": ("api.openai.com", "OPENAI_API_KEY", "/chat/completions", "/v1/batches",
               "/v1/files"),
}
# lmwrapper 0.18's import paths, one per provider: thin re-exports of its folder.
COMPAT = {"openai": ("openai_wrapper/",), "anthropic": ("claude_wrapper/",),
          "huggingface": ("huggingface_wrapper/", "compat018/")}
PACKAGES = {"openai": "openai", "anthropic": "anthropic", "hf": "huggingface"}


def _home(provider: str) -> tuple[str, ...]:
    """Where `provider`'s facts may live: its folder, its fake's modules, its 0.18 paths."""
    return (f"providers/{provider}/", f"testing/providers/{provider}", *COMPAT.get(provider, ()))


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """Every string constant of the module that is not a docstring."""
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docs]


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_every_registered_provider_has_its_folder():
    """The markers and packages above cover the registry (a new provider adds its own)."""
    assert set(PACKAGES) == set(PROVIDERS)
    for package in PACKAGES.values():
        assert (PACKAGE / "providers" / package / "spec.py").is_file()


@pytest.mark.parametrize("provider", sorted(MARKERS))
def test_no_module_outside_its_folder_knows_a_providers_strings(provider):
    found = []
    for path in MODULES:
        if _rel(path).startswith(_home(provider)):
            continue
        for node in _code_strings(ast.parse(path.read_text("utf-8"))):
            found += [f"{_rel(path)}:{node.lineno}: {m!r}"
                      for m in MARKERS[provider] if m in node.value]
    assert not found, f"{provider}'s facts outside its folder:\n" + "\n".join(found)


@pytest.mark.parametrize("package", sorted(set(PACKAGES.values())))
def test_no_module_outside_its_folder_imports_a_provider(package):
    """Shared code reaches a provider through the registry, never by importing it; the
    registry names each spec module once, as a string."""
    own = re.compile(rf"lmwrapper\.(testing\.)?providers\.{package}(\.|$)")
    found = [f"{_rel(path)}:{line}: {module}" for path in MODULES
             if not _rel(path).startswith(_home(package))
             for line, module in _imported(ast.parse(path.read_text("utf-8")))
             if own.match(module)]
    assert not found, f"imports of providers/{package} outside it:\n" + "\n".join(found)
    registry = (PACKAGE / "providers" / "registry.py").read_text("utf-8")
    assert registry.count(f'"lmwrapper.providers.{package}.spec"') == 1


def test_the_provider_modules_reach_no_internal_module():
    """`lmwrapper.openai_wrapper`, `claude_wrapper`, `huggingface_wrapper` have their public
    names (`__all__`, 0.18's among them) and no more: an internal module of the provider's
    folder is not reached through them, and the error says where the public names are."""
    import importlib
    import warnings

    import lmwrapper.providers.huggingface.smollm2
    import lmwrapper.providers.openai.models  # noqa: F401  (imported: an attribute of its package)

    for module, internal in (("openai_wrapper", "models"), ("claude_wrapper", "models"),
                             ("huggingface_wrapper", "smollm2")):
        public = importlib.import_module(f"lmwrapper.{module}")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a plain error, no DeprecationWarning first
            with pytest.raises(AttributeError, match="Its public names: .*the rest of the "
                               "public API is `lmwrapper`'s own"):
                getattr(public, internal)
        assert all(getattr(public, name) is not None for name in public.__all__
                   if name not in ("torch", "transformers") and not name.startswith("Auto")
                   and not name.startswith("PreTrained"))
