"""The README's python examples, by section, for the tests that run them as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks under `## heading` (up to the next `## `), minus those marked
    with a `<!-- skip test … -->` line just above them."""
    text = README.read_text()
    start = text.index(f"## {heading}")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    found = re.findall(r"(<!-- skip test[^>]*-->\n)?```python\n(.*?)```", section, re.DOTALL)
    return [code for skip, code in found if not skip]
