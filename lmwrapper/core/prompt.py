"""The values that travel through lmwrapper: prompts, chat turns, predictions.

Values are frozen. A prompt knows its canonical JSON (every field that can change the
output, with defaults normalised), which is what the cache key hashes:

    >>> LmPrompt("hi", max_tokens=5).canonical() == LmPrompt("hi", max_tokens=5, stop=[]).canonical()
    True
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from types import GenericAlias
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from lmwrapper.core import extend

# Their home was here: re-exported, explicitly (`x as x`) for mypy's no_implicit_reexport.
from lmwrapper.core.chat import LM_CHAT_DIALOG_COERCIBLE_TYPES as LM_CHAT_DIALOG_COERCIBLE_TYPES  # noqa: PLC0414
from lmwrapper.core.chat import ROLES as ROLES  # noqa: PLC0414
from lmwrapper.core.chat import ChatTurnLike as ChatTurnLike  # noqa: PLC0414
from lmwrapper.core.chat import LmChatDialog as LmChatDialog  # noqa: PLC0414
from lmwrapper.core.chat import LmChatTurn as LmChatTurn  # noqa: PLC0414
from lmwrapper.core.structured import is_schema_class, response_format_key


class StopMode(enum.StrEnum):
    """The type of `LmPrompt`'s `stop_mode` argument (lmwrapper 0.18's, in its positional place).

    Every backend here does WILL_NOT_CONTAIN: a stop string is never part of
    `completion_text`, so the mode never changes the output nor the cache key; what it means
    for a prompt is `lmwrapper.compat018.values.prompt_018_args`.
    """

    WILL_NOT_CONTAIN = "WILL_NOT_CONTAIN"
    ONLY_STOP_GENERATING = "ONLY_STOP_GENERATING"
    AUTO = "AUTO"


@dataclass(frozen=True)
class ModelInternalsRequest:
    """What a local model should return besides the text (see `LmPrediction.internals`).

    Layers are chosen by index (negative counts from the end, 0 is the embeddings) or by
    fraction of depth (0.0 = embeddings, 1.0 = last layer); neither means every layer.
    """

    return_hidden_states: bool = False
    return_attentions: bool = False
    hidden_layer_indexes: tuple[int, ...] | None = None
    hidden_layer_fractions: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("hidden_layer_indexes", "hidden_layer_fractions"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        for f in self.hidden_layer_fractions or ():
            if not 0.0 <= f <= 1.0:
                raise ValueError(f"ModelInternalsRequest.hidden_layer_fractions must be in [0, 1]; got {f}")

    def canonical(self) -> dict[str, Any]:
        """The fields that differ from their defaults (a new field with a default keeps old keys)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v != _INTERNALS_DEFAULTS[k]}


class _StopModeReader:
    """`LmPrompt.stop_mode`, read back. A base class, since in `LmPrompt` itself the name is
    the constructor's InitVar (see the `delattr` below the class)."""

    @property
    def stop_mode(self) -> StopMode:
        """0.18's stop handling mode, as given to `LmPrompt(stop_mode=)` (AUTO if not given).
        Not part of the cache key; `dataclasses.replace` reads it to carry it over."""
        mode: StopMode = self.__dict__.get("_stop_mode", StopMode.AUTO)
        return mode


ResponseFormat = Literal["text", "json_object"] | Mapping[str, Any] | type | None
# The union of what the providers take (openai's `ReasoningEffort`, anthropic's
# `OutputConfigParam.effort`, checked in tests/test_reasoning_values.py); which of them a
# model takes is its provider's rule (providers/<name>/rules.py + models.toml).
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
VERBOSITIES = ("low", "medium", "high")  # openai's ChatCompletion `verbosity`
THINKING_MODES = ("adaptive", "disabled")  # Claude's `thinking.type`; an int is a budget
MIN_THINKING_BUDGET = 1024  # anthropic's ThinkingConfigEnabledParam: "Must be >= 1024"


@dataclass(frozen=True)
class LmPrompt(_StopModeReader):
    """A request for a completion. Everything but `cache` and `metadata` is part of its cache key.

    `text` is a string (completion) or a chat: a list of strings alternating user/assistant,
    or `LmChatTurn`s. `num_completions=None` returns one `LmPrediction`; an int returns a list.
    """

    text: str | LmChatDialog | Sequence[ChatTurnLike]
    max_tokens: int | None = None
    stop: Sequence[str] | None = None
    # 0.18's, in 0.18's place so its positional calls line up; not a field (see
    # compat018.values.prompt_018_args: it never changes the output, so never the cache key)
    stop_mode: InitVar[StopMode | str] = StopMode.AUTO
    logprobs: int | None = 1
    temperature: float = 1.0
    top_p: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    num_completions: int | None = None
    cache: bool | None = None
    echo: bool = False
    add_bos_token: bool | None = None
    add_special_tokens: bool = True
    model_internals_request: ModelInternalsRequest | None = None
    metadata: Any = field(default=None, compare=False)
    max_completion_tokens: InitVar[int | None] = None  # 0.18's; another name for max_tokens
    seed: int | None = None
    response_format: ResponseFormat = None
    # How hard a reasoning model thinks: one of REASONING_EFFORTS (OpenAI `reasoning_effort`,
    # Claude `output_config.effort`); None sends nothing (the model's default).
    reasoning_effort: str | None = None
    verbosity: str | None = None  # OpenAI's answer length: low, medium, high
    # Claude's thinking: "adaptive", "disabled", or an int >= 1024 (a budget_tokens).
    thinking: str | int | None = None
    # Local models: text[:context_split] is tokenised on its own and the rest continues it as
    # lm-evaluation-harness's `_encode_pair` does (see lmwrapper.tools.scoring); 0 starts from BOS.
    context_split: int | None = None
    # Local models: only the prompt's token ids [start:end) are fed, a window of a text too
    # long for the model (see lmwrapper.tools.scoring.loglikelihood_rolling).
    token_slice: tuple[int, int] | None = None

    def __post_init__(self, stop_mode: StopMode | str, max_completion_tokens: int | None) -> None:
        if stop_mode != "AUTO" or max_completion_tokens is not None or self.top_p is None:
            extend.adapter("prompt_args")(self, stop_mode, max_completion_tokens)  # 0.18's
        if type(self.text) is str and _usual(self):
            return  # most prompts: every field valid as given, nothing to normalise
        if not isinstance(self.text, str):
            _check_text_type(self.text)
            object.__setattr__(self, "text", LmChatDialog(self.text))
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif self.stop is not None:
            object.__setattr__(self, "stop", tuple(self.stop))
        if isinstance(self.token_slice, list):  # as JSON gives it back
            object.__setattr__(self, "token_slice", tuple(self.token_slice))
        for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        _validate(self)

    # 0.18's LmPrompt was Generic in its metadata type: `LmPrompt[MyMeta]` still works.
    __class_getitem__: ClassVar[Any] = classmethod(GenericAlias)

    if TYPE_CHECKING:  # 0.18's methods, lent by lmwrapper.compat018.values.PromptCompat018
        def replace(self, **changes: Any) -> LmPrompt: ...
        def is_deterministic_sampling(self) -> bool: ...
        def dict_serialize(self, include_metadata: bool = False) -> dict[str, Any]: ...

    def is_text_a_chat(self) -> bool:
        return isinstance(self.text, LmChatDialog)

    def get_text_as_chat(self) -> LmChatDialog:
        if isinstance(self.text, LmChatDialog):
            return self.text
        return LmChatDialog([str(self.text)])

    def get_text_as_string_default_form(self) -> str:
        """The text as a string; a chat is written in `LmChatDialog.to_default_string_prompt` form."""
        if isinstance(self.text, LmChatDialog):
            return self.text.to_default_string_prompt()
        return str(self.text)

    @property
    def samples_needed(self) -> int:
        """How many distinct samples this prompt needs (1 when decoding is greedy)."""
        return 1 if self.temperature == 0.0 else (self.num_completions or 1)

    def canonical(self, *, include_defaults: bool = False) -> dict[str, Any]:
        """Every output-affecting field by name, normalised (stop None == [], a chat as dicts).

        Fields at their default are left out (unless `include_defaults`): the cache key hashes
        this dict, so a field added later with a default does not change any existing key.
        `num_completions` is left out too: samples are cached as rows with a sample index.

            >>> LmPrompt("hi", max_tokens=5).canonical()
            {'kind': 'text', 'text': 'hi', 'max_tokens': 5}
        """
        text: Any = self.text
        if isinstance(text, LmChatDialog):
            text = [t.as_dict() for t in text]
        full = {
            "kind": "chat" if isinstance(self.text, LmChatDialog) else "text",
            "text": text,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop) if self.stop else [],
            "logprobs": self.logprobs or 0,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "echo": self.echo,
            "add_bos_token": self.add_bos_token,
            "add_special_tokens": self.add_special_tokens,
            "internals": self.model_internals_request.canonical()
            if self.model_internals_request
            else None,
            "seed": self.seed,
            "response_format": response_format_key(self.response_format),
            "reasoning_effort": self.reasoning_effort,
            "verbosity": self.verbosity,
            "thinking": self.thinking,
            "context_split": self.context_split,
            "token_slice": list(self.token_slice) if self.token_slice is not None else None,
        }
        if include_defaults:
            return full
        # `kind` and `text` have no default, so they always count. Validation fixed each
        # field's type, so `==` cannot confuse 1 with True or 1.0.
        default = _CANONICAL_DEFAULTS.get
        return {k: v for k, v in full.items() if v != default(k, _ALWAYS)}

    def to_dict(self, *, defaults: bool = True) -> dict[str, Any]:
        """A JSON-ready dict of every field, as given (`from_dict` rebuilds an equal prompt);
        `defaults=False` leaves out the fields at their default (`from_dict` fills them in)."""
        d = {name: getattr(self, name) for name in _PROMPT_FIELDS}
        if not defaults:
            d = {k: v for k, v in d.items() if not _is_default(k, v)}
        if isinstance(self.text, LmChatDialog):
            d["text"] = self.text.as_dicts()
        if self.stop is not None:
            d["stop"] = list(self.stop)
        if self.model_internals_request is not None:
            d["model_internals_request"] = self.model_internals_request.canonical()
        if is_schema_class(self.response_format):
            d["response_format"] = response_format_key(self.response_format)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LmPrompt:
        d = dict(d)
        if d.get("model_internals_request") is not None:
            d["model_internals_request"] = ModelInternalsRequest(**d["model_internals_request"])
        return cls(**d)


# The InitVar's default left a class attribute `LmPrompt.stop_mode` (AUTO) that would hide
# `_StopModeReader.stop_mode`, the property 0.18 code reads (and type-checks); __init__ keeps
# its own copy of the default.
delattr(LmPrompt, "stop_mode")


def prompt_of(fields: Mapping[str, Any]) -> LmPrompt:
    """`LmPrompt(**fields)`, without the frozen dataclass's `__init__` (which sets each of the
    30 fields through `object.__setattr__`: half the cost of a prompt read from a JSONL line).

        >>> prompt_of({"text": "hi", "max_tokens": 5}) == LmPrompt("hi", max_tokens=5)
        True

    Every field starts at its default and takes the given value, in the order `__init__` sets
    them, and `__post_init__` then checks and normalises them as the constructor does, so the
    prompt and its errors are the constructor's. Fields that are not all dataclass fields
    (`stop_mode`, `max_completion_tokens`, a misspelt name) or that lack `text` go to the
    constructor itself.
    """
    if "text" not in fields or not _FIELD_NAMES.issuperset(fields):
        return LmPrompt(**fields)
    prompt = _new(LmPrompt)
    values = prompt.__dict__
    values.update(_FIELD_DEFAULTS)  # a real instance's dict: the new one keeps sharing its keys
    values.update(fields)
    prompt.__post_init__(StopMode.AUTO, None)
    return prompt


def _check_text_type(text: Any) -> None:
    """A clear TypeError for a `text` that is neither a str nor a list of chat turns."""
    if isinstance(text, (bytes, bytearray)):
        raise TypeError("LmPrompt.text must be a str or a list of chat turns; got bytes: "
                        "decode it first, e.g. LmPrompt(data.decode('utf-8'))")
    if isinstance(text, Mapping) or not isinstance(text, Iterable):
        raise TypeError("LmPrompt.text must be a str (a completion prompt) or a list of chat "
                        f"turns (str, LmChatTurn, (role, content) or dict); got {type(text).__name__}"
                        + (": wrap the turn in a list" if isinstance(text, Mapping) else ""))


def _check(ok: bool, field_name: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"LmPrompt.{field_name} must be {allowed}; got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# The fields most prompts leave at their default, and those defaults' types (1 == True and
# 0.0 == False, so a value equal to its default may still be of a type that is refused).
# The fields at their default on most prompts: every field but the ones checked below (and
# metadata, which is not validated); a field added later joins it by itself.
_USUAL_FIELDS = tuple(f.name for f in dataclasses.fields(LmPrompt)
                      if f.name not in ("text", "max_tokens", "temperature", "metadata"))
_usual_of = operator.attrgetter(*_USUAL_FIELDS)
_USUAL = tuple(f.default for f in dataclasses.fields(LmPrompt) if f.name in _USUAL_FIELDS)
_USUAL_TYPES = tuple(map(type, _USUAL))


def _usual(p: LmPrompt) -> bool:
    """Whether every field but the text and metadata is at its default, of its default's type,
    but for a valid `max_tokens` (None or an int >= 1) and a float `temperature` in [0, 2]:
    then each is valid, and none needs normalising (most prompts: 1 µs, where checking each
    field takes 6)."""
    usual = _usual_of(p)
    if usual == _USUAL and tuple(map(type, usual)) == _USUAL_TYPES:
        m, t = p.max_tokens, p.temperature
        return (m is None or (type(m) is int and m >= 1)) and type(t) is float and 0.0 <= t <= 2.0
    return False


def usual_settings(p: LmPrompt) -> tuple[int | None, float] | None:
    """`(max_tokens, temperature)` of a prompt whose every other field but the text and
    metadata is at its default, of its default's type (`_usual`: most prompts); None for
    any other prompt. A check that reads neither the text nor the metadata says the same of
    every prompt with these settings, so it may be asked once per pair (OpenAI's
    `validate_prompt`).

        >>> usual_settings(LmPrompt("hi", max_tokens=5)), usual_settings(LmPrompt("hi", seed=1))
        ((5, 1.0), None)
    """
    return (p.max_tokens, p.temperature) if _usual(p) else None


def _validate(p: LmPrompt) -> None:
    if _usual(p):
        return
    m = p.max_tokens
    _check(m is None or (_is_int(m) and (m >= 1 or (m == 0 and p.echo is True))), "max_tokens",
           "None or an int >= 1 (0 only with echo=True: score the prompt, generate nothing)", m)
    _check(p.stop is None or all(isinstance(s, str) and s for s in p.stop), "stop",
           "None or a list of non-empty strings", p.stop)
    _check(p.logprobs is None or (_is_int(p.logprobs) and 0 <= p.logprobs <= 20), "logprobs",
           "None or an int in [0, 20]", p.logprobs)
    _check(_is_num(p.temperature) and 0.0 <= p.temperature <= 2.0, "temperature",
           "a number in [0, 2]", p.temperature)
    _check(_is_num(p.top_p) and 0.0 < p.top_p <= 1.0, "top_p", "a number in (0, 1]", p.top_p)
    for name in ("presence_penalty", "frequency_penalty"):
        v = getattr(p, name)
        _check(_is_num(v) and -2.0 <= v <= 2.0, name, "a number in [-2, 2]", v)
    n = p.num_completions
    _check(n is None or (_is_int(n) and n >= 1), "num_completions", "None or an int >= 1", n)
    _check(p.cache is None or isinstance(p.cache, bool), "cache", "None, True or False", p.cache)
    for name in ("echo", "add_special_tokens"):
        _check(isinstance(getattr(p, name), bool), name, "True or False", getattr(p, name))
    _check(p.add_bos_token is None or isinstance(p.add_bos_token, bool), "add_bos_token",
           "None, True or False", p.add_bos_token)
    _check(p.seed is None or _is_int(p.seed), "seed", "None or an int", p.seed)
    rf = p.response_format
    _check(rf in (None, "text", "json_object") or isinstance(rf, Mapping) or is_schema_class(rf),
           "response_format", "None, 'text', 'json_object', a JSON-schema dict or a pydantic "
           "model class", rf)
    cs = p.context_split
    _check(cs is None or (_is_int(cs) and isinstance(p.text, str) and 0 <= cs <= len(p.text)),
           "context_split", "None or a character offset into a string text (0 to len(text))", cs)
    ts = p.token_slice
    _check(ts is None or (isinstance(ts, tuple) and len(ts) == 2 and all(map(_is_int, ts))
                          and 0 <= ts[0] < ts[1]), "token_slice",
           "None or (start, end), two ints with 0 <= start < end", ts)
    mir = p.model_internals_request
    _check(mir is None or isinstance(mir, ModelInternalsRequest), "model_internals_request",
           "None or a ModelInternalsRequest", mir)
    _check(p.reasoning_effort is None or p.reasoning_effort in REASONING_EFFORTS,
           "reasoning_effort", f"None or one of {', '.join(REASONING_EFFORTS)}", p.reasoning_effort)
    _check(p.verbosity is None or p.verbosity in VERBOSITIES, "verbosity",
           f"None or one of {', '.join(VERBOSITIES)}", p.verbosity)
    th = p.thinking
    _check(th is None or th in THINKING_MODES or (isinstance(th, int) and _is_int(th)
                                                  and th >= MIN_THINKING_BUDGET),
           "thinking", f"None, 'adaptive', 'disabled' or a budget of thinking tokens (an int "
           f">= {MIN_THINKING_BUDGET})", th)


@dataclass(frozen=True)
class LmUsage:
    """Tokens the provider counted (or the local model processed) for one request."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    # Tokens written to the provider's prompt cache (Anthropic bills them above the input rate).
    cache_write_prompt_tokens: int | None = None
    # Of `completion_tokens`, those spent reasoning / thinking (billed as output, and counted
    # in `completion_tokens` already: OpenAI's reasoning_tokens, Claude's thinking_tokens).
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class LmPrediction:
    """The answer to one `LmPrompt` (one sample of it when `num_completions` is set).

    Token-level fields are tuples aligned with each other: `completion_tokens[i]` has
    `completion_logprobs[i]` and `top_token_logprobs[i]` (a dict token → logprob of the
    most likely alternatives). They are None where the backend cannot provide them.
    With `echo=True`, `prompt_tokens`, `prompt_logprobs` and `prompt_top_logprobs` do the
    same for the prompt (None at the first position). `parsed` holds the decoded answer
    of a JSON `response_format` (see `lmwrapper.core.structured`); it is never stored.
    """

    completion_text: str | None
    prompt: LmPrompt
    # 0.18's third argument (the raw API response): kept as `pred.metad` when given, not a
    # field (not stored, not compared), so `LmPrediction(text, prompt, {})` is not an error.
    metad: InitVar[Any] = None
    error_message: str | None = None
    error_is_transient: bool = False
    was_cached: bool = False
    finish_reason: str | None = None
    completion_tokens: tuple[str, ...] | None = None
    completion_logprobs: tuple[float, ...] | None = None
    # Read through the property installed below the class (0.18 raises when logprobs=0);
    # left out of repr/== because they read it as an attribute.
    top_token_logprobs: tuple[dict[str, float], ...] | None = field(
        default=None, repr=False, compare=False)
    prompt_tokens: tuple[str, ...] | None = None
    prompt_logprobs: tuple[float | None, ...] | None = None
    prompt_top_logprobs: tuple[dict[str, float] | None, ...] | None = None
    usage: LmUsage = field(default_factory=LmUsage)
    cost_usd: float | None = None
    provider: str | None = None
    model: str | None = None
    request_id: str | None = None
    batch_id: str | None = None
    sample_index: int = 0
    # The reasoning / thinking text the API returned (Claude's thinking, summarised or "" when
    # omitted); None when it returned none. Never part of `completion_text`.
    reasoning: str | None = None
    internals: Any = field(default=None, compare=False, repr=False)
    parsed: Any = field(default=None, compare=False, repr=False)  # see lmwrapper.core.structured

    __class_getitem__: ClassVar[Any] = classmethod(GenericAlias)  # 0.18's LmPrediction[T]

    if TYPE_CHECKING:  # 0.18's names, lent by lmwrapper.compat018.values.PredictionCompat018
        @property
        def usage_output_tokens(self) -> int | None: ...
        @property
        def full_logprobs(self) -> tuple[float | None, ...]: ...
        @property
        def prompt_token_offsets(self) -> tuple[int, ...]: ...
        @property
        def completion_token_offsets(self) -> tuple[int, ...]: ...
        @property
        def logprobs_dict(self) -> list[dict[str, Any]]: ...
        def get_full_tokens(self) -> tuple[str, ...]: ...
        def make_reply_prompt(self, new_turns: str | Sequence[ChatTurnLike],
                              **override_prompt_params: Any) -> LmPrompt: ...
        def dict_serialize(self, pull_out_props: bool = True, include_metad: bool = False,
                           include_metadata: bool = False) -> dict[str, Any]: ...
        def mark_as_cached(self) -> LmPrediction: ...

    def __post_init__(self, metad: Any) -> None:
        if metad is not None:
            object.__setattr__(self, "metad", metad)

    @property
    def has_errors(self) -> bool:
        return self.error_message is not None

    def completion_mean_logprob(self) -> float:
        if not self.completion_logprobs:
            raise ValueError("this prediction has no completion logprobs (set LmPrompt.logprobs >= 1)")
        return sum(self.completion_logprobs) / len(self.completion_logprobs)

    def get_full_text(self) -> str:
        return self.prompt.get_text_as_string_default_form() + (self.completion_text or "")

    def to_dict(self, *, include_prompt: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; `internals` (arrays) are stored apart, as blobs, by the cache."""
        # from __dict__, not getattr: `top_token_logprobs` may raise for logprobs=0
        d = dict(zip(_PLAIN_FIELDS, _plain_values(self.__dict__)))
        u = self.__dict__["usage"]
        if type(u) is list and len(u) <= len(_USAGE_FIELDS):  # a cached row's, as stored
            d["usage"] = dict(zip(_USAGE_FIELDS, (*u, None, None, None, None, None)))
        else:
            u = self.usage
            d["usage"] = {"prompt_tokens": u.prompt_tokens,
                          "completion_tokens": u.completion_tokens,
                          "cached_prompt_tokens": u.cached_prompt_tokens,
                          "cache_write_prompt_tokens": u.cache_write_prompt_tokens,
                          "reasoning_tokens": u.reasoning_tokens}
        if include_prompt:
            d["prompt"] = self.prompt.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], prompt: LmPrompt | None = None) -> LmPrediction:
        """Inverse of `to_dict`; `prompt` overrides the stored one."""
        kw = dict(d)
        kw["prompt"] = prompt if prompt is not None else LmPrompt.from_dict(kw["prompt"])
        kw["usage"] = LmUsage(**kw["usage"]) if kw.get("usage") else LmUsage()
        for name in _TUPLE_FIELDS:
            if kw.get(name) is not None:
                kw[name] = tuple(kw[name])
        return cls(**kw)

    def cache_record(self, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The fields that differ from their defaults (prompt, internals and was_cached aside).

        `defaults` overrides some defaults (the engine passes the predictor's provider and
        model, so a record does not repeat them); give the same to `from_cache_record`.
        """
        base = {**_DEFAULTS, **defaults} if defaults else _DEFAULTS
        values = self.__dict__  # not getattr: `top_token_logprobs` may raise for logprobs=0
        d = {k: v for k in _RECORD_FIELDS if (v := values[k]) != base[k]}
        if self.usage != _DEFAULT_USAGE:
            u = self.usage
            d["usage"] = [u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens]
            if u.cache_write_prompt_tokens is not None or u.reasoning_tokens is not None:
                d["usage"].append(u.cache_write_prompt_tokens)  # older rows have three
            if u.reasoning_tokens is not None:  # ... or four (rows before reasoning tokens)
                d["usage"].append(u.reasoning_tokens)
        return d

    @classmethod
    def from_cache_record(cls, record: dict[str, Any], prompt: LmPrompt, internals: Any = None,
                          defaults: Mapping[str, Any] | None = None) -> LmPrediction:
        """Rebuild a cached prediction (marked `was_cached`). Trusted input: the fast path
        skips `__init__`, which matters when serving 100,000 cached predictions
        (`cache_reader(defaults)` binds `defaults` once, for a loop)."""
        return cache_reader(defaults, cls)(record, prompt, internals)

    def evolve(self, **changes: Any) -> LmPrediction:
        """A copy with `changes` applied (a cheap `dataclasses.replace`)."""
        obj = object.__new__(type(self))
        obj.__dict__.update(self.__dict__)
        obj.__dict__.update(changes)
        return obj

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=True)

    @classmethod
    def from_json(cls, s: str) -> LmPrediction:
        return cls.from_dict(json.loads(s))



def _get_top_token_logprobs(self: LmPrediction) -> tuple[dict[str, float], ...] | None:
    value: tuple[dict[str, float], ...] | None = self.__dict__["top_token_logprobs"]
    if value is None and not self.prompt.logprobs and self.error_message is None:
        raise ValueError(
            f"top_token_logprobs: the prompt asked for logprobs={self.prompt.logprobs!r}, so no "
            "alternatives were requested; set LmPrompt(logprobs=N) with N >= 1 to get the top N")
    return value


def _set_top_token_logprobs(self: LmPrediction, value: tuple[dict[str, float], ...] | None) -> None:
    # Only the dataclass __init__ gets here (object.__setattr__); assignment on an instance
    # still raises FrozenInstanceError. The cache's fast path writes __dict__ directly.
    self.__dict__["top_token_logprobs"] = value


# A data descriptor over the field of the same name: the stored value stays in __dict__,
# so construction and `from_cache_record` cost what they did.
LmPrediction.top_token_logprobs = property(  # type: ignore[assignment]
    _get_top_token_logprobs, _set_top_token_logprobs,
    doc="Per completion token, {token: logprob} of the most likely alternatives (None where "
        "the backend has none); a ValueError when the prompt asked logprobs=0.")



def _get_usage(self: LmPrediction) -> LmUsage:
    usage = self.__dict__["usage"]
    if type(usage) is list:  # a cached row's counts, made an LmUsage on first use
        usage = self.__dict__["usage"] = LmUsage(*usage)
    return usage  # type: ignore[no-any-return]


def _set_usage(self: LmPrediction, value: LmUsage) -> None:
    self.__dict__["usage"] = value  # only __init__ gets here, as for top_token_logprobs


# `cache_reader` leaves a row's usage as the stored list ([prompt, completion, cached, ...]);
# it becomes an LmUsage when first read. Building a frozen LmUsage was a third of rebuilding
# a cached prediction, and a rerun that reads only `completion_text` never needs one.
LmPrediction.usage = property(  # type: ignore[assignment]
    _get_usage, _set_usage, doc="Tokens the provider counted for this sample (an LmUsage).")

_INTERNALS_DEFAULTS = dataclasses.asdict(ModelInternalsRequest())
# `dataclasses.fields()` per call was a tenth of `to_dict` (the batch engine calls it per line)
_PROMPT_FIELDS = tuple(f.name for f in dataclasses.fields(LmPrompt))
_PROMPT_DEFAULTS = {f.name: f.default for f in dataclasses.fields(LmPrompt)
                    if f.default is not dataclasses.MISSING}
_FIELD_NAMES = frozenset(_PROMPT_FIELDS)
# every field at its default (text too, which every caller of `prompt_of` replaces), in the
# order `__init__` sets them: a real instance's dict, so that `update` keeps key sharing
_FIELD_DEFAULTS = LmPrompt("").__dict__
_new = object.__new__


def _is_default(name: str, value: Any) -> bool:
    default = _PROMPT_DEFAULTS.get(name, _ALWAYS)
    return value is default or (type(value) is type(default) and value == default)
_ALWAYS = object()  # differs from every value: marks the entries without a default
_CANONICAL_DEFAULTS = {k: v for k, v in LmPrompt("").canonical(include_defaults=True).items()
                       if k not in ("kind", "text")}

_PLAIN_FIELDS = tuple(
    f.name for f in dataclasses.fields(LmPrediction) if f.name not in ("prompt", "internals", "usage", "parsed")
)
_plain_values = operator.itemgetter(*_PLAIN_FIELDS)
_USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(LmUsage))
_RECORD_FIELDS = tuple(n for n in _PLAIN_FIELDS if n != "was_cached")
_DEFAULT_USAGE = LmUsage()
_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(LmPrediction)
    if f.default is not dataclasses.MISSING
}
_DEFAULTS.update(usage=_DEFAULT_USAGE, completion_text=None)
_TUPLE_FIELDS = (
    "completion_tokens",
    "completion_logprobs",
    "top_token_logprobs",
    "prompt_tokens",
    "prompt_logprobs",
    "prompt_top_logprobs",
)
# Every field, in declaration order: the order `__init__` sets them (see `cache_reader`).
_IN_FIELD_ORDER = {f.name: _DEFAULTS.get(f.name) for f in dataclasses.fields(LmPrediction)}


def cache_reader(defaults: Mapping[str, Any] | None = None, cls: type[LmPrediction] | None = None,
                 ) -> Callable[[dict[str, Any], LmPrompt, Any], LmPrediction]:
    """`LmPrediction.from_cache_record(record, prompt, internals, defaults)` with `defaults`
    bound once: what the row codec calls for each cached row.

    Every field is set first, in the order `__init__` sets them, then overwritten from the
    record: the instance keeps a key-sharing dict, ~290 bytes where one filled in another
    order takes ~460 (a million cached predictions held by a caller: 170 MB less).
    """
    # A real instance's dict, so that `update` copies its values into the new instance's
    # key-sharing dict (from a plain dict, an empty instance dict becomes a copy of that
    # dict, keys and all). A subclass, which may take other arguments, gets a plain one.
    cls = cls or LmPrediction
    base = LmPrediction(None, None).__dict__ if cls is LmPrediction else {}  # type: ignore[arg-type]
    for name, value in {**_IN_FIELD_ORDER, **(defaults or {}), "was_cached": True}.items():
        base[name] = value
    new, tuple_fields = object.__new__, frozenset(_TUPLE_FIELDS)

    def read(record: dict[str, Any], prompt: LmPrompt, internals: Any = None) -> LmPrediction:
        obj = new(cls)
        d = obj.__dict__
        d.update(base)
        d.update(record)
        if not tuple_fields.isdisjoint(record):  # JSON has lists; the fields are tuples
            for name in tuple_fields.intersection(record):
                d[name] = tuple(record[name])
        d["prompt"] = prompt
        d["internals"] = internals
        return obj

    return read


def cache_dict_reader(defaults: Mapping[str, Any] | None = None,
                      ) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """`cache_reader(defaults)(record, prompt).to_dict(include_prompt=False)`, made straight
    from the stored record (no prediction built, no `to_dict`): what `lmwrapper run` writes
    for a cached answer. None for a record of another shape (a field `to_dict` leaves out, a
    usage that is not the stored list of counts): the caller goes the long way, whose
    result, or error, it then is. The record's lists stay lists where the prediction holds
    tuples: the same JSON.

    The fields come in `to_dict`'s order (a dict merge keeps the first dict's order): every
    field at the cached prediction's default, the record's values over them.
    """
    shown = cache_reader(defaults)({}, None, None).to_dict(  # type: ignore[arg-type]
        include_prompt=False)
    usage = shown["usage"]  # what to_dict shows for a record without usage
    size, usage_fields, no_counts = len(shown), _USAGE_FIELDS, dict.fromkeys(_USAGE_FIELDS)

    def read(record: dict[str, Any]) -> dict[str, Any] | None:
        d = {**shown, **record}
        if len(d) != size:  # a field to_dict does not show (prompt, internals, parsed, ...)
            return None
        u = d["usage"]
        if u is usage:
            d["usage"] = usage.copy()
        elif type(u) is list and len(u) <= len(usage_fields):
            d["usage"] = counts = no_counts.copy()  # the counts a row lacks: None
            counts.update(zip(usage_fields, u))
        else:
            return None
        return d

    return read
