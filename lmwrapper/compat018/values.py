"""lmwrapper 0.18's names on the values, kept out of `lmwrapper.core.prompt` (see README,
"Coming from lmwrapper 0.18").

`install()` lends `PromptCompat018` and `PredictionCompat018` to `LmPrompt` and
`LmPrediction` (`lmwrapper.core.extend.lend`: their members become the classes' own; the
classes declare them for mypy): methods and properties only, no state, so the values cost
what they did to build and to serve from the cache. `ChatGptRoles` and `StopMode` are
importable from `lmwrapper.structs`, where 0.18 had them (`StopMode` lives in the core: it is
the type of an `LmPrompt` argument). `prompt_018_args` gives `LmPrompt`'s 0.18 arguments
(`stop_mode`, `top_p=None`, `max_completion_tokens`) their meaning; `LmPrompt` calls it, as
the adapter "prompt_args", only when one of them is used.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from lmwrapper.compat018.hooks import warn
from lmwrapper.core import extend
from lmwrapper.core.prompt import LmChatDialog, LmChatTurn, LmPrediction, LmPrompt, StopMode

if TYPE_CHECKING:
    from lmwrapper.core.prompt import ChatTurnLike, LmUsage


class ChatGptRoles(enum.StrEnum):
    """0.18's chat roles; members are the plain role strings (`ChatGptRoles.user == "user"`)."""

    system = "system"
    user = "user"
    assistant = "assistant"
    function = "function"


# -- LmPrompt ----------------------------------------------------------------------------------

class PromptCompat018:
    """0.18's methods of `LmPrompt` (`prompt.stop_mode` is the core's: `dataclasses.replace`
    reads it)."""

    if TYPE_CHECKING:
        temperature: float
        top_p: float

    def replace(self, **changes: Any) -> LmPrompt:
        """A copy with `changes` applied (validated like a new prompt)."""
        return dataclasses.replace(cast("LmPrompt", self), **changes)

    def is_deterministic_sampling(self) -> bool:
        """Whether decoding is greedy (temperature or top_p ~ 0), so every sample is the same."""
        return self.temperature < 1e-4 or self.top_p < 1e-4

    def dict_serialize(self, include_metadata: bool = False) -> dict[str, Any]:
        """0.18's JSON-ready dict of the prompt (`to_dict` is the full, round-trippable one)."""
        return _prompt_dict(cast("LmPrompt", self), include_metadata)


def prompt_018_args(prompt: LmPrompt, stop_mode: Any, max_completion_tokens: int | None) -> None:
    """Give `LmPrompt`'s 0.18 arguments their meaning here.

    `top_p=None` meant "not sent: the provider's default", which is 1.0 everywhere, so it
    becomes 1.0 (and the cache key is that of the default). `stop_mode` is not part of the
    prompt's identity: every backend here already does WILL_NOT_CONTAIN (the stop string is
    never in `completion_text`), so AUTO and WILL_NOT_CONTAIN are that; ONLY_STOP_GENERATING
    (which 0.18 refused) is accepted with a warning. `max_completion_tokens` is `max_tokens`.
    """
    if prompt.top_p is None:
        object.__setattr__(prompt, "top_p", 1.0)
    if stop_mode != StopMode.AUTO:
        mode = _stop_mode(stop_mode)
        object.__setattr__(prompt, "_stop_mode", mode)  # read back as `prompt.stop_mode`
        if mode == StopMode.ONLY_STOP_GENERATING:
            warn("LmPrompt(stop_mode=ONLY_STOP_GENERATING): lmwrapper never leaves a stop string "
                 "in completion_text (WILL_NOT_CONTAIN, on every backend); the text ends where "
                 "the stop string began. Leave stop_mode at its default.", stacklevel=5)
    if max_completion_tokens is not None:
        if prompt.max_tokens is not None and prompt.max_tokens != max_completion_tokens:
            raise ValueError(f"LmPrompt: max_tokens={prompt.max_tokens} and max_completion_tokens="
                             f"{max_completion_tokens} disagree; pass only max_tokens (it is sent "
                             "as max_completion_tokens to the models that take that)")
        object.__setattr__(prompt, "max_tokens", max_completion_tokens)


def function_call_018(function_call: Any) -> None:
    """`LmChatTurn(function_call=)`: 0.18 kept the call a model asked for on the turn. Here the
    turn keeps it (`turn.function_call`), but it is neither sent nor part of the cache key."""
    warn(f"LmChatTurn(function_call={function_call!r}) is kept on the turn but not sent to the "
         "model and not part of the cache key: lmwrapper does not do function calling. To show "
         "the model the call, put it in the turn's content.", stacklevel=5)


def _stop_mode(value: Any) -> StopMode:
    try:
        return StopMode(str(getattr(value, "value", value)))
    except ValueError:
        raise ValueError(f"LmPrompt.stop_mode must be one of {', '.join(StopMode)} (a StopMode "
                         f"or its name); got {value!r}") from None


def _prompt_dict(prompt: LmPrompt, include_metadata: bool) -> dict[str, Any]:
    """0.18's `LmPrompt.dict_serialize` layout (metadata only when JSON-serialisable)."""
    out: dict[str, Any] = {name: getattr(prompt, name) for name in (
        "max_tokens", "logprobs", "temperature", "top_p", "presence_penalty",
        "frequency_penalty", "num_completions", "cache", "echo", "add_bos_token",
        "add_special_tokens")}
    out["stop"] = list(prompt.stop) if prompt.stop is not None else None
    chat = prompt.is_text_a_chat()
    out["text"] = prompt.get_text_as_chat().as_dicts() if chat else prompt.text
    if include_metadata and prompt.metadata is not None:
        try:
            json.dumps(prompt.metadata)
            out["metadata"] = prompt.metadata
        except (TypeError, ValueError):
            pass  # as 0.18: metadata that is not JSON is left out
    return out


# -- LmPrediction ------------------------------------------------------------------------------

class PredictionCompat018:
    """0.18's properties and methods of `LmPrediction`."""

    if TYPE_CHECKING:
        completion_text: str | None
        prompt: LmPrompt
        usage: LmUsage
        completion_tokens: tuple[str, ...] | None
        completion_logprobs: tuple[float, ...] | None
        prompt_tokens: tuple[str, ...] | None
        prompt_logprobs: tuple[float | None, ...] | None

    @property
    def usage_output_tokens(self) -> int | None:
        """Output tokens the provider billed (hidden reasoning included), else the tokens seen."""
        if self.usage.completion_tokens is not None:
            return self.usage.completion_tokens
        return len(self.completion_tokens) if self.completion_tokens is not None else None

    @property
    def full_logprobs(self) -> tuple[float | None, ...]:
        """Prompt logprobs then completion logprobs (needs `LmPrompt(echo=True)`)."""
        return (tuple(_need_echo(self.prompt_logprobs, "full_logprobs"))
                + tuple(_need_echo(self.completion_logprobs, "full_logprobs")))

    def get_full_tokens(self) -> tuple[str, ...]:
        """Prompt tokens then completion tokens (needs `LmPrompt(echo=True)`)."""
        return (tuple(_need_echo(self.prompt_tokens, "get_full_tokens"))
                + tuple(_need_echo(self.completion_tokens, "get_full_tokens")))

    @property
    def prompt_token_offsets(self) -> tuple[int, ...]:
        """Where each prompt token starts in `get_full_text()` (needs echo=True)."""
        return _token_offsets(self.prompt_tokens, 0,
                              self.prompt.get_text_as_string_default_form(), "prompt")

    @property
    def completion_token_offsets(self) -> tuple[int, ...]:
        """Where each completion token starts in `get_full_text()` (after the prompt text)."""
        start = len(self.prompt.get_text_as_string_default_form())
        return _token_offsets(self.completion_tokens, start, self.completion_text, "completion")

    @property
    def logprobs_dict(self) -> list[dict[str, Any]]:
        """Per completion token `{"repr": repr(token), "probability": logprob}` (a logprob,
        despite the name, as in 0.18)."""
        if self.completion_tokens is None or self.completion_logprobs is None:
            raise ValueError("this prediction has no completion logprobs: build the prompt with "
                             "LmPrompt(..., logprobs=1) or more (a reasoning model has none)")
        return [{"repr": repr(t), "probability": lp}
                for t, lp in zip(self.completion_tokens, self.completion_logprobs, strict=True)]

    def make_reply_prompt(self, new_turns: str | Sequence[ChatTurnLike],
                          **override_prompt_params: Any) -> LmPrompt:
        """The chat so far, this completion as the assistant turn, then `new_turns`."""
        turns: list[ChatTurnLike] = list(self.prompt.get_text_as_chat())
        if self.completion_text is not None:
            turns.append(LmChatTurn("assistant", self.completion_text))
        turns.extend(LmChatDialog(new_turns))
        return self.prompt.replace(text=LmChatDialog(turns), **override_prompt_params)

    def dict_serialize(self, pull_out_props: bool = True, include_metad: bool = False,
                       include_metadata: bool = False) -> dict[str, Any]:
        """0.18's JSON-ready dict (`to_dict` is the full, round-trippable one)."""
        return _prediction_dict(cast("LmPrediction", self), pull_out_props, include_metad,
                                include_metadata)

    def mark_as_cached(self) -> LmPrediction:
        """A copy marked `was_cached` (predictions are frozen: 0.18 changed this one in place)."""
        return cast("LmPrediction", self).evolve(was_cached=True)


def _token_offsets(tokens: Sequence[str] | None, start: int, text: str | None, what: str
                   ) -> tuple[int, ...]:
    """Where each token starts in the text, counting from `start`; ValueError if the tokens
    do not spell `text` (then offsets into the text are not defined)."""
    if tokens is None:
        raise ValueError(f"{what} offsets need {what} tokens, and this prediction has none"
                         + (" (set LmPrompt(echo=True))" if what == "prompt" else ""))
    joined = "".join(tokens)
    if text is not None and not (joined.startswith(text) or text.startswith(joined)):
        raise ValueError(f"the {what} tokens do not spell the {what} text (a BOS token, a chat "
                         f"template or a token splitting a character), so offsets into the "
                         f"text are not defined; use {what}_tokens instead")
    offsets, pos = [], start
    for tok in tokens:
        offsets.append(pos)
        pos += len(tok)
    return tuple(offsets)


def _need_echo(value: Any, name: str) -> Any:
    if value is None:
        raise ValueError(f"LmPrediction.{name} needs the prompt's tokens and logprobs: build the "
                         "prompt with LmPrompt(..., echo=True) (and logprobs >= 1)")
    return value


def _prediction_dict(pred: LmPrediction, pull_out_props: bool, include_metad: bool,
                     include_metadata: bool) -> dict[str, Any]:
    """0.18's `LmPrediction.dict_serialize` layout over this version's fields."""
    out: dict[str, Any] = {
        "completion_text": pred.completion_text,
        "prompt": pred.prompt.dict_serialize(include_metadata=include_metadata),
        "was_cached": pred.was_cached,
        "error_message": pred.error_message,
    }
    if pull_out_props:
        for name in ("prompt_tokens", "completion_tokens", "prompt_logprobs",
                     "completion_logprobs", "full_logprobs", "top_token_logprobs"):
            try:
                value = getattr(pred, name)
            except ValueError:
                continue
            if value is not None:
                out[name] = [dict(v) if isinstance(v, Mapping) else v for v in value]
    if include_metad:  # 0.18 kept the raw API response; we keep the parsed record
        out["metad"] = pred.to_dict(include_prompt=False)
    return out


def install() -> None:
    """Lend the mixins to the values and register the adapters `LmPrompt` and `LmChatTurn`
    call for 0.18's arguments."""
    extend.lend(LmPrompt, PromptCompat018)
    extend.lend(LmPrediction, PredictionCompat018)
    extend.install("prompt_args", prompt_018_args)
    extend.install("chat_function_call", function_call_018)


__all__ = ["ChatGptRoles", "PredictionCompat018", "PromptCompat018", "StopMode",
           "function_call_018", "prompt_018_args"]
