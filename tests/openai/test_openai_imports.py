"""The OpenAI backend loads the SDK and tiktoken only when it needs them, and uses only the
SDK's public API (its transport changed from httpx to httpx2 across the versions we allow)."""

import re
import subprocess
import sys
from pathlib import Path

import lmwrapper


def loaded_after(statement):
    code = (f"{statement}; import sys; "
            "print(sorted(m for m in ('openai', 'tiktoken', 'httpx', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    return out.stdout.strip()


def test_importing_and_configuring_the_backend_stays_light():
    assert loaded_after("import lmwrapper") == "[]"
    stmt = ("from lmwrapper.openai_wrapper import get_open_ai_lm, OpenAiModelNames; "
            "from lmwrapper import LmPrompt; "
            "lm = get_open_ai_lm(OpenAiModelNames.gpt_4o_mini); lm.validate_prompt(LmPrompt('x'))")
    assert loaded_after(stmt) == "[]"


def test_counting_tokens_loads_tiktoken_but_not_the_sdk():
    stmt = ("from lmwrapper.openai_wrapper import get_open_ai_lm; from lmwrapper import LmPrompt; "
            "get_open_ai_lm('gpt-4o-mini').estimate_tokens_in_prompt(LmPrompt('hi'))")
    assert loaded_after(stmt) == "['tiktoken']"


def test_no_code_imports_the_sdks_transport():
    pattern = re.compile(r"^\s*(import|from)\s+httpx", re.MULTILINE)
    offenders = [str(p) for p in Path(lmwrapper.__file__).parent.rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == [], "use the SDK's own exceptions and raw-response API instead"
