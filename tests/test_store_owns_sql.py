"""The store owns every SQL statement: no module outside `lmwrapper/store/` holds SQL or
touches a connection (DESIGN.md: "store/ — the only package that writes SQL").

Read from the source with `ast`, with the SQL detection of `scripts/structure.py` (the
figure "modules with SQL statements"), so a statement moved back out fails here.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "lmwrapper"
STORE = PKG / "store"
# What only the store may call or import: a connection's methods and the SQLite libraries.
CONNECTION_METHODS = {"execute", "executemany", "executescript", "cursor", "commit", "rollback"}
SQLITE_MODULES = {"sqlite3", "sqlite_utils", "apsw"}


def _structure():  # scripts/ is not a package: load the script itself
    spec = importlib.util.spec_from_file_location("structure", ROOT / "scripts" / "structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outside_store() -> dict[str, Path]:
    return {name: path for name, path in _structure().modules().items()
            if STORE not in path.parents}


def _connection_uses(path: Path) -> list[str]:
    """`file:line what` for each import of a SQLite library, `._conn`, or connection method call."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names
                      if a.name.split(".")[0] in SQLITE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SQLITE_MODULES:
            found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr == "_conn":
            found.append(f"{where} ._conn")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in CONNECTION_METHODS:
            found.append(f"{where} .{node.func.attr}(...)")
    return found


def test_the_scan_sees_the_store_sql_and_connections():
    """The detection works: the store itself is full of both."""
    structure = _structure()
    in_store = [n for n in structure.sql_modules(structure.modules())
                if n.startswith("lmwrapper.store.")]
    assert {"lmwrapper.store.db", "lmwrapper.store.batch_records",
            "lmwrapper.store.migrations"} <= set(in_store)
    assert _connection_uses(STORE / "db.py")


def test_no_module_outside_the_store_holds_sql():
    outside = _outside_store()
    assert "lmwrapper.cli.batch" in outside and "lmwrapper.store.db" not in outside
    assert _structure().sql_modules(outside) == [], (
        "SQL belongs in lmwrapper/store/: move the statement into a named function there")


def test_no_module_outside_the_store_touches_a_connection():
    uses = [use for path in _outside_store().values() for use in _connection_uses(path)]
    assert uses == [], ("only lmwrapper/store/ opens, reads or writes the cache file; "
                        "call a named function of the store instead:\n" + "\n".join(uses))
