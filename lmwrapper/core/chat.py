"""Chats: `LmChatTurn` (one message) and `LmChatDialog` (an immutable sequence of them),
and how plain strings, (role, content) tuples and dicts become turns. Importable from
`lmwrapper.core.prompt`, where `LmPrompt` takes a chat as its `text`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from lmwrapper.core import extend

ROLES = ("system", "user", "assistant", "developer", "tool", "function")


@dataclass(frozen=True)
class LmChatTurn:
    """One message of a chat: `role` is system, user, assistant, developer, tool or function."""

    role: str
    content: str
    name: str | None = None
    # 0.18's; kept on the turn but never sent nor keyed (see compat018.values.function_call_018)
    function_call: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"LmChatTurn.role must be one of {', '.join(ROLES)}; got {self.role!r}")
        if self.function_call is not None:
            extend.adapter("chat_function_call")(self.function_call)  # 0.18's: a warning
            if self.content is None:  # 0.18: a function-call turn needed no content
                object.__setattr__(self, "content", "")
        if not isinstance(self.content, str):
            raise TypeError(f"LmChatTurn.content must be a str; got {type(self.content).__name__}")

    def as_dict(self) -> dict[str, str]:
        d = {"role": self.role, "content": self.content}
        if self.name is not None:
            d["name"] = self.name
        return d


ChatTurnLike = LmChatTurn | str | tuple[str, str] | Mapping[str, Any]


class LmChatDialog(tuple[LmChatTurn, ...]):
    """An immutable sequence of `LmChatTurn`.

    Plain strings alternate user/assistant, starting with user (after any system turn):

        >>> [t.role for t in LmChatDialog(["2+2?", "4", "5+3?"])]
        ['user', 'assistant', 'user']
    """

    def __new__(cls, values: Iterable[ChatTurnLike] | str) -> LmChatDialog:  # noqa: PYI034
        if isinstance(values, LmChatDialog):
            return values
        if isinstance(values, str):
            values = [values]
        turns: list[LmChatTurn] = []
        next_role = "user"
        for value in values:
            turn = _as_turn(value, next_role)
            turns.append(turn)
            next_role = "user" if turn.role == "assistant" else "assistant"
            if turn.role in ("system", "developer"):
                next_role = "user"
        if not turns:
            raise ValueError("LmPrompt.text: a chat needs at least one turn; got an empty list")
        return super().__new__(cls, turns)

    def as_dicts(self) -> list[dict[str, str]]:
        return [t.as_dict() for t in self]

    def to_default_string_prompt(self) -> str:
        """The chat as `role: content` lines ending with `assistant:`, for models without a chat format."""
        return "\n".join(f"{t.role}: {t.content}" for t in self) + "\nassistant:"


LM_CHAT_DIALOG_COERCIBLE_TYPES = str | Sequence[ChatTurnLike] | LmChatDialog  # 0.18's name


def _as_turn(value: ChatTurnLike, default_role: str) -> LmChatTurn:
    if isinstance(value, LmChatTurn):
        return value
    if isinstance(value, str):
        return LmChatTurn(default_role, value)
    if isinstance(value, Mapping):
        if "role" not in value or ("content" not in value and "function_call" not in value):
            raise ValueError("LmPrompt.text: a chat turn given as a dict needs 'role' and "
                             f"'content'; got the keys {sorted(value)}")
        return LmChatTurn(value["role"], cast(str, value.get("content")), value.get("name"),
                          value.get("function_call"))
    if isinstance(value, tuple) and len(value) == 2:
        return LmChatTurn(value[0], value[1])
    raise ValueError(
        "LmPrompt.text: each chat turn must be a str, an LmChatTurn, a (role, content) tuple "
        f"or a dict with role and content; got {type(value).__name__}"
    )
