"""lmwrapper 0.18's key holders, for `get_open_ai_lm(api_key_secret=...)`.

    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret=SecretEnvVar("MY_OPENAI_KEY"))
    lm = get_open_ai_lm("gpt-4o-mini", api_key_secret=SecretFile(Path("~/keys/oai.txt").expanduser()))

They hold where the key is, not the key, so a predictor built with one keeps it when
pickled (a bare key string is dropped from the pickle). The key is read when a request
must be sent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar


class SecretInterface:
    """Anything with `get_secret()` works as `api_key_secret`; this is 0.18's base class."""

    def get_secret(self) -> str:
        raise NotImplementedError

    def is_readable(self) -> bool:
        return True


class SecretEnvVar(SecretInterface):
    """The key in the environment variable `name`."""

    pickles_without_key: ClassVar[bool] = True  # holds a name: a pickled predictor keeps it

    def __init__(self, name: str) -> None:
        self.name = name

    def is_readable(self) -> bool:
        return bool(os.environ.get(self.name))

    def get_secret(self) -> str:
        if not self.is_readable():
            raise KeyError(f"SecretEnvVar: ${self.name} is not set; export it or pass another secret")
        return os.environ[self.name].strip()

    def __repr__(self) -> str:
        return f"SecretEnvVar({self.name!r})"


class SecretFile(SecretInterface):
    """The key in the text file `path` (surrounding whitespace ignored)."""

    pickles_without_key: ClassVar[bool] = True  # holds a path: a pickled predictor keeps it

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise FileNotFoundError(f"SecretFile: {self.path} does not exist; write the key there "
                                    "or pass another secret")

    def is_readable(self) -> bool:
        return self.path.is_file()

    def get_secret(self) -> str:
        return self.path.read_text().strip()

    def __repr__(self) -> str:
        return f"SecretFile({str(self.path)!r})"


def assert_is_a_secret(secret: object, name: str = "secret") -> None:
    """0.18's check that a secret is a holder, not a key pasted into the code."""
    if isinstance(secret, str):
        raise ValueError(f"Don't hardcode the {name}: use SecretEnvVar or SecretFile instead")  # noqa: TRY004  (as 0.18)
    if not hasattr(secret, "get_secret"):
        raise TypeError(f"{name} must have get_secret() (a SecretInterface); got {type(secret).__name__}")


__all__ = ["SecretEnvVar", "SecretFile", "SecretInterface", "assert_is_a_secret"]
