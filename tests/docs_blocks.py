"""The docs' python examples (docs/*.md and README.md), by page and section, for the tests
that run them as written. tests/test_docs_blocks.py fails when a block is run by no test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP = re.compile(r"<!-- skip test:\s*(.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    page: str        # "getting-started.md" (under docs/) or "README.md"
    heading: str     # the nearest heading above it, without its #s ("" before the first)
    code: str
    skip_reason: str | None  # from a `<!-- skip test: reason -->` line just above the fence
    fence: str       # the fence's language, as written ("python", "py", ...)


def page_path(page: str) -> Path:
    return ROOT / page if page == "README.md" else DOCS / page


def pages() -> list[str]:
    """Every page with examples: the README and the docs' markdown files."""
    return ["README.md", *sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))]


def blocks(page: str) -> list[Block]:
    """Every fenced block of a page that is code in some language, in order, with its section."""
    found: list[Block] = []
    heading, lines = "", page_path(page).read_text().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):  # a fence, with a language or without: skip to its end
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            skip = SKIP.fullmatch(lines[i - 1].strip()) if i else None
            if line[3:].strip():
                found.append(Block(page, heading, "\n".join(lines[i + 1:end]) + "\n",
                                   skip.group(1) if skip else None, line[3:].strip()))
            i = end + 1
            continue
        if re.match(r"#{1,6} ", line):
            heading = line.lstrip("#").strip()
        i += 1
    return found


def _section(page: str, heading: str) -> tuple[int, int]:
    """Line numbers [start, end) of `heading`'s section: up to the next heading of the same or
    a higher level, outside code fences."""
    lines = page_path(page).read_text().split("\n")
    fenced, start, level = False, None, 0
    for n, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not (m := re.match(r"(#{1,6}) (.*)", line)):
            continue
        if start is None and m.group(2).strip() == heading:
            start, level = n, len(m.group(1))
        elif start is not None and len(m.group(1)) <= level:
            return start, n
    if start is None:
        raise ValueError(f"{page} has no heading {heading!r}")
    return start, len(lines)


def python_blocks(page: str, heading: str | None = None) -> list[str]:
    """The ```python blocks of `page` (the whole page, or the section under `heading`), minus
    those marked `<!-- skip test: reason -->` on the line just above them."""
    if heading is None:
        return [b.code for b in blocks(page) if b.fence == "python" and b.skip_reason is None]
    start, end = _section(page, heading)
    text = "\n".join(page_path(page).read_text().split("\n")[start:end])
    found = re.findall(r"(<!-- skip test:[^>]*-->\n)?```python\n(.*?)```", text, re.DOTALL)
    return [code for skip, code in found if not skip]

