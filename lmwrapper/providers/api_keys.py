"""An API key is checked before it goes into a header: no control characters, ever.

A key read with `open(path).read()` ends with a newline; sent as is it becomes a malformed
request (shown as a cryptic transient error and retried) or, with a CR/LF inside, a header
injection: `Authorization: Bearer sk-…\\r\\nX-Injected: 1`. So surrounding whitespace is
stripped (with a warning when it came from the caller's own argument or variable) and a key
that still holds a control character is refused with an error that never shows the key.

    >>> checked_key("sk-abc\\n", "api_key_secret")   # warns: stripped
    'sk-abc'
"""

from __future__ import annotations

import re
import warnings

from lmwrapper.core.errors import ConfigurationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_key(key: str, source: str, *, warn: bool = True) -> str:
    """`key` without surrounding whitespace; ConfigurationError if a control character remains.

    `source` names where it came from ("api_key_secret", "$OPENAI_API_KEY", a file)."""
    stripped = key.strip()
    if stripped != key and warn and _CONTROL.search(key):
        warnings.warn(f"the API key from {source} ends or starts with a newline or other "
                      "whitespace; lmwrapper stripped it (read key files with .strip())",
                      stacklevel=3)
    if _CONTROL.search(stripped):
        raise ConfigurationError(
            f"the API key from {source} contains a control character (a line break, tab or "
            "other) inside it: a key never does, and lmwrapper will not put it in a request "
            "header. Check that it is one key, copied whole (the key is not shown here).")
    return stripped
