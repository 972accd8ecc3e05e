"""Print the structure figures of the `lmwrapper` package (issue "The house in layers").

    python scripts/structure.py            # figures of the working tree
    python scripts/structure.py --cycles   # and each import cycle's modules

Figures: modules at the top of `lmwrapper/` (and how many are thin 0.18 re-exports), import
cycles counting function-level imports, import arrows that point up a layer (layers as in
`.importlinter`), function-level imports of lmwrapper modules, modules with SQL statements,
and median / p90 function length. Read from the source with `ast`; nothing is imported.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import re
import statistics
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "lmwrapper"
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
    if args.cycles:
        for c in circles:
            print("cycle:", ", ".join(c))
        for a, b in up:
            print(f"up: {a} -> {b}")


if __name__ == "__main__":
    main()
