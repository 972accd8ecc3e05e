"""The docs cannot rot: every ```python block of docs/*.md and README.md is run by a test.

A test takes its examples with `python_blocks(page, heading)` (tests/docs_blocks.py). This
file reads every test module, finds those calls (their arguments are literals or module-level
string constants, so they can be read without running anything) and fails for a block that
none of them takes, unless the block is marked `<!-- skip test: reason -->`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from docs_blocks import ROOT, blocks, pages, python_blocks

TESTS = ROOT / "tests"


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` and `A, B = "x", "y"` assignments."""
    found: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = (zip(target.elts, node.value.elts, strict=False)
                     if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                     else [(target, node.value)])
            found |= {t.id: v.value for t, v in pairs if isinstance(t, ast.Name)
                      and isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def _calls(path: Path) -> list[tuple[str, ...] | str]:
    """The argument tuples of each `python_blocks(...)` call in a test module; a call whose
    arguments cannot be read statically is returned as a message instead."""
    tree = ast.parse(path.read_text(), str(path))
    names, found = _constants(tree), []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "python_blocks"):
            continue
        args = [a.value if isinstance(a, ast.Constant) else names.get(getattr(a, "id", ""))
                for a in node.args]
        if node.keywords or not args or any(not isinstance(a, str) for a in args):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: pass python_blocks literal "
                         f"strings or module-level string constants, so this test can read them")
        else:
            found.append(tuple(args))
    return found


def _covered() -> tuple[set[tuple[str, str]], list[str]]:
    covered: set[tuple[str, str]] = set()
    problems: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in ("docs_blocks.py", "test_docs_blocks.py"):
            continue
        for call in _calls(path):
            if isinstance(call, str):
                problems.append(call)
                continue
            page = call[0]
            try:
                covered |= {(page, code) for code in python_blocks(*call)}
            except (ValueError, FileNotFoundError) as e:
                problems.append(f"{path.relative_to(ROOT)}: python_blocks{call}: {e}")
    return covered, problems


def _orphans(covered: set[tuple[str, str]], pages: list[str]) -> list[str]:
    return [f"{b.page} (under {b.heading!r}): {(b.code.splitlines() or [''])[0]}"
            for page in pages for b in blocks(page)
            if b.fence == "python" and b.skip_reason is None and (page, b.code) not in covered]


def test_every_python_block_in_the_docs_is_run_by_a_test():
    covered, problems = _covered()
    assert not problems, "\n".join(problems)
    orphans = _orphans(covered, pages())
    assert not orphans, (
        "python blocks no test runs (run them with python_blocks(page, heading) in a test, or "
        "mark one `<!-- skip test: reason -->` on the line above its fence):\n  "
        + "\n  ".join(orphans))


@pytest.mark.parametrize("page", pages())
def test_python_blocks_are_fenced_as_python_and_skips_give_a_reason(page):
    for b in blocks(page):
        assert b.fence not in ("py", "python3", "pycon", "Python"), (
            f"{page} (under {b.heading!r}): fence it ```python, the fence the tests run")
        if b.fence == "python" and b.skip_reason is not None:
            assert b.skip_reason, f"{page} (under {b.heading!r}): say why the test skips it"


def test_the_guard_sees_an_orphan(tmp_path, monkeypatch):
    """The guard itself: a block on a page that no call takes is reported; a skipped one not."""
    import docs_blocks

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("# T\n\n## A\n\n```python\nx = 1\n```\n\n"
                                  "<!-- skip test: needs a GPU -->\n```python\ny = 2\n```\n\n"
                                  "## B\n\n```python\nz = 3\n```\n")
    monkeypatch.setattr(docs_blocks, "DOCS", docs)
    found = [(b.heading, b.code, b.skip_reason) for b in blocks("page.md")]
    assert found == [("A", "x = 1\n", None), ("A", "y = 2\n", "needs a GPU"),
                     ("B", "z = 3\n", None)]
    assert python_blocks("page.md", "A") == ["x = 1\n"]
    assert python_blocks("page.md") == ["x = 1\n", "z = 3\n"]
    with pytest.raises(ValueError, match="no heading 'C'"):
        python_blocks("page.md", "C")
    covered = {("page.md", code) for code in python_blocks("page.md", "A")}
    assert _orphans(covered, ["page.md"]) == ["page.md (under 'B'): z = 3"]


def test_the_reference_documents_every_public_name():
    """docs/reference/lmwrapper.md lists `lmwrapper.__all__`, no more, no less."""
    import lmwrapper

    text = (ROOT / "docs" / "reference" / "lmwrapper.md").read_text()
    listed = {line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")}
    assert listed == set(lmwrapper.__all__)
