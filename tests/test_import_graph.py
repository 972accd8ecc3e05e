"""No import cycles in `lmwrapper`, function-level and `TYPE_CHECKING` imports counted.

The graph and the cycle finder are `scripts/structure.py`'s (the figure "import cycles"),
read from the source with `ast`: a cycle dodged by a late import still fails here. Break
one with a smaller module both sides import (`core/answers.py`, `runners/batch/state.py`)
or a protocol the lower side names (`engine.plan.Model`), not a function-level import.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _structure():  # scripts/ is not a package: load the script itself
    spec = importlib.util.spec_from_file_location("structure", ROOT / "scripts" / "structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _graph(structure) -> dict[str, set[str]]:
    found = structure.modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in found.items():
        graph[name] = {target for target, _ in structure.imports(name, path, set(found))}
    return graph


def test_no_import_cycles():
    structure = _structure()
    assert structure.cycles(_graph(structure)) == []


def test_the_cycle_finder_finds_a_cycle():
    """The guard above guards: a two-module loop and a three-module loop are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c", "a"}, "f": {"a"}}
    assert _structure().cycles(graph) == [["a", "b"], ["c", "d", "e"]]
