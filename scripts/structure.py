"""Print the structure figures of the `lmwrapper` package (issue "The house in layers").

    python scripts/structure.py            # figures of the working tree
    python scripts/structure.py --cycles   # and each import cycle's modules
    python scripts/structure.py --public   # and which internal modules tests import, for what

Figures: modules at the top of `lmwrapper/` (and how many are thin 0.18 re-exports), import
cycles counting function-level imports, import arrows that point up a layer (layers as in
`.importlinter`), function-level imports of lmwrapper modules, modules with SQL statements,
median / p90 function length, and the internal modules (`INTERNAL`: the layer packages and
any `_name`) that tests and the docs' examples import, function-level imports counted. Read
from the source with `ast`; nothing is imported.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import re
import statistics
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "lmwrapper"
# Internal: the layer packages (lmwrapper/__init__.py's docstring) and any module whose name
# starts with one underscore. Public: `lmwrapper`, the provider modules, tools, testing, and
# lmwrapper 0.18's import paths.
INTERNAL = ("core", "store", "engine", "runners", "providers", "cli", "compat018")
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|BEGIN|PRAGMA|REPLACE|"
                 r"WITH|ATTACH|VACUUM)\b", re.IGNORECASE)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(imported lmwrapper module, at function level?) for every import in a module."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
              for n in ast.walk(f) if n is not f}
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.append((target, id(node) in nested))
    return out


def internal(module: str) -> bool:
    """Whether a module of lmwrapper is internal (`lmwrapper.store.db`, `lmwrapper._version`)."""
    parts = module.split(".")
    return parts[0] == "lmwrapper" and len(parts) > 1 and (
        parts[1] in INTERNAL or any(p.startswith("_") and not p.startswith("__") for p in parts))


def imported_names(source: str, known: set[str]) -> list[tuple[str, str, bool]]:
    """(lmwrapper module, name taken from it, at function level?) for every import in code
    outside the package (a test, a docs example): `from lmwrapper.store import db` is module
    `lmwrapper.store.db`, name `*`; `import lmwrapper.store.keys` is name `*` too."""
    tree = ast.parse(source)
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
              for n in ast.walk(f) if n is not f}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "*", id(node) in nested) for a in node.names
                    if a.name.split(".")[0] == "lmwrapper"]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module \
                and node.module.split(".")[0] == "lmwrapper":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((sub, "*", id(node) in nested) if sub in known
                           else (node.module, a.name, id(node) in nested))
    return out


def entry_points() -> set[tuple[str, str]]:
    """(module, function) of each console script in pyproject.toml: public, since pip writes
    them into the scripts it installs (`lmwrapper.cli.main`, `main`)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return {(module, func) for module, _, func in
            (target.partition(":") for target in scripts.values())}


def code_blocks() -> dict[str, str]:
    """The docs' python examples ("README.md#3", "docs/cache.md#1": the page's nth block)."""
    out = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text()
        found = re.findall(r"^```(?:python|py)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
        out |= {f"{page.relative_to(ROOT)}#{i + 1}": code for i, code in enumerate(found)}
    return out


def internal_imports(known: set[str]) -> tuple[dict[str, list[tuple[str, str, bool]]], int]:
    """Per test file (tests/**.py) and per docs example: its imports of internal modules (a
    console script's entry point is not one); and how many test files there are."""
    found: dict[str, list[tuple[str, str, bool]]] = {}
    tests = sorted((ROOT / "tests").rglob("*.py"))
    entries = entry_points()
    for path in tests:
        hits = [i for i in imported_names(path.read_text(), known)
                if internal(i[0]) and i[:2] not in entries]
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    for where, code in code_blocks().items():
        try:
            hits = [i for i in imported_names(code, known) if internal(i[0])]
        except SyntaxError:  # an example with `...` in place of code: its imports by text
            named = re.findall(r"^\s*(?:from|import) ([\w.]+)", code, re.MULTILINE)
            hits = [(m, "*", False) for m in named if internal(m)]
        if hits:
            found[where] = hits
    return found, len(tests)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layers() -> list[list[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    for section in cfg.sections():
        if cfg[section].get("type") == "layers":
            rows = [r.strip() for r in cfg[section]["layers"].split("\n") if r.strip()]
            return [[p.strip() for p in re.split(r"[|:]", r)] for r in reversed(rows)]
    return []


def rank(module: str, ranks: list[list[str]]) -> int | None:
    for i, row in enumerate(ranks):
        if any(module == p or module.startswith(p + ".") for p in row):
            return i
    return None


def function_lengths(paths: list[Path]) -> list[int]:
    lengths = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lengths.append((node.end_lineno or node.lineno) - node.lineno + 1)
    return lengths


def sql_modules(found: dict[str, Path]) -> list[str]:
    out = []
    for name, path in found.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.match(node.value) and re.search(r"\b(FROM|INTO|TABLE|SET|"
                                                             r"TRANSACTION|IMMEDIATE)\b|^\s*PRAGMA|^\s*BEGIN",
                                                             node.value, re.IGNORECASE):
                out.append(name)
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", action="store_true", help="list each cycle's modules")
    ap.add_argument("--public", action="store_true",
                    help="list the internal modules tests import, with the names and files")
    args = ap.parse_args()
    found = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    function_level = 0
    for name, path in found.items():
        graph[name]
        for target, nested in imports(name, path, set(found)):
            graph[name].add(target)
            function_level += nested
    top = [p for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    thin = [p for p in top if "A thin re-export" in p.read_text()]
    ranks = layers()
    up = sorted((a, b) for a, targets in graph.items() for b in targets
                if rank(a, ranks) is not None and rank(b, ranks) is not None
                and rank(b, ranks) > rank(a, ranks))  # type: ignore[operator]
    circles = cycles(graph)
    lengths = sorted(function_lengths(list(found.values())))
    print(f"modules at the top of lmwrapper/: {len(top)} ({len(thin)} thin 0.18 re-exports)")
    print(f"import cycles (function-level imports counted): {len(circles)}"
          f" (largest {max((len(c) for c in circles), default=0)} modules)")
    print(f"arrows that point up a layer: {len(up)}")
    print(f"function-level imports of lmwrapper modules: {function_level}")
    outside = [m for m in sql_modules(found) if not m.startswith("lmwrapper.store")]
    print(f"modules with SQL statements: {len(sql_modules(found))}"
          f" (outside store/: {', '.join(outside) or 'none'})")
    print(f"functions: {len(lengths)}; median length {statistics.median(lengths):.0f} lines,"
          f" p90 {lengths[int(len(lengths) * 0.9)]}, max {lengths[-1]}")
    by_file, n_tests = internal_imports(set(found))
    test_hits = {f: h for f, h in by_file.items() if f.startswith("tests/")}
    docs_hits = {f: h for f, h in by_file.items() if not f.startswith("tests/")}
    per_module: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for f, hits in test_hits.items():
        for module, name, _ in hits:
            per_module[module][name].add(f)
    print(f"internal modules imported by tests: {len(per_module)}, in {len(test_hits)} of"
          f" {n_tests} test files ({sum(n for h in test_hits.values() for *_, n in h)}"
          f" of the imports at function level); by the docs' examples:"
          f" {len({m for h in docs_hits.values() for m, *_ in h})}")
    if args.public:
        for module, names in sorted(per_module.items()):
            files = set().union(*names.values())
            print(f"{module} ({len(files)} files): " + ", ".join(
                f"{n} {len(fs)}" for n, fs in sorted(names.items(), key=lambda x: -len(x[1]))))
        for where, hits in docs_hits.items():
            print(f"docs: {where}: " + ", ".join(f"{m}.{n}" for m, n, _ in hits))
    if args.cycles:
        for c in circles:
            print("cycle:", ", ".join(c))
        for a, b in up:
            print(f"up: {a} -> {b}")


if __name__ == "__main__":
    main()
