"""Where lmwrapper 0.18's behaviour plugs into classes and functions that never import it.

The layers below `lmwrapper.compat018` only declare these points, empty; `lmwrapper.compat018`
fills them when it is imported, and `lmwrapper/__init__.py` imports it last, so they are
filled before any user code runs (DESIGN.md: compat018 sits above all, nothing imports it).
Two kinds:

- `lend(target, mixin)`: the mixin's methods and properties become the target class's own
  (`LmPrompt.replace`, `LmPrediction.dict_serialize`, `LmPredictor.remove_prompt_from_cache`).
  The class declares their signatures under `if TYPE_CHECKING:`, for mypy. A class loaded
  lazily (a provider's) is named by its dotted path and calls `receive(cls)` once defined.
- `adapter(name)`: a function a core class or a factory calls where a 0.18 argument or a
  0.18 subclass needs meaning (`LmPrompt(stop_mode=...)`, `get_open_ai_lm(organization=...)`);
  `install(name, function)` registers it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_adapters: dict[str, Callable[..., Any]] = {}
_lent: dict[str, list[type]] = {}  # "module.Class" -> mixins lent to it, for `receive`


def install(name: str, function: Callable[..., Any]) -> None:
    """Register the adapter called `name` (replacing one of the same name)."""
    _adapters[name] = function


def adapter(name: str) -> Callable[..., Any]:
    """The adapter called `name`; a RuntimeError if none is installed."""
    try:
        return _adapters[name]
    except KeyError:
        raise RuntimeError(f"lmwrapper 0.18 support ({name!r}) is not installed: import "
                           "lmwrapper.compat018 (`import lmwrapper` does)") from None


def lend(target: type | str, mixin: type) -> None:
    """Give class `target` the members of `mixin` (not its dunders). A dotted name stands for
    a class defined later: its module calls `receive(cls)`."""
    if isinstance(target, str):
        _lent.setdefault(target, []).append(mixin)
        return
    for name, member in vars(mixin).items():
        if not (name.startswith("__") and name.endswith("__")):
            setattr(target, name, member)


def receive(cls: type) -> None:
    """Give `cls` the members lent to it by name (see `lend`)."""
    for mixin in _lent.get(f"{cls.__module__}.{cls.__qualname__}", ()):
        lend(cls, mixin)
