"""Prompt → token ids for a local model: chat template, BOS handling, special tokens.

Chat mode (`use_chat_mode`) is resolved once per model:
- None (default): chat prompts go through the tokenizer's chat template when it has one
  (else `role: content` lines); string prompts are tokenized exactly as given, so a string
  is text to continue or to score (0.18 templated strings on chat models: use True, or send
  `["..."]`, as `lmwrapper run` does for string lines).
- True: every prompt goes through the chat template; a string is one user turn.
- False: no template; chat prompts are written as `role: content` lines.

A chat that ends in an assistant turn is continued (prefill): no generation prompt is
appended and the template's end-of-turn after that last turn is not emitted.

A templated prompt already holds its special tokens, so it is tokenized with
`add_special_tokens=False` (no double BOS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmwrapper.core.prompt import LmPrompt
from lmwrapper.providers.huggingface.pairs import encode_pair

REMEMBERED = 8192  # text prompts whose token ids an encoder keeps


class PromptEncoder:
    def __init__(self, tokenizer: Any, use_chat_mode: bool | None) -> None:
        self.tokenizer = tokenizer
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        if use_chat_mode and not self.has_template:
            raise ValueError(
                "use_chat_mode=True, but this tokenizer has no chat_template; set "
                "tokenizer.chat_template or leave use_chat_mode=None")
        self.forced = use_chat_mode
        self.chat_mode = self.has_template if use_chat_mode is None else use_chat_mode
        self._remembered: dict[tuple[Any, ...], tuple[int, ...]] = {}  # see `encode`

    def identity(self) -> dict[str, Any]:
        return encoding_identity(self.has_template, self.forced)

    def uses_template(self, prompt: LmPrompt) -> bool:
        if self.forced is None:
            return self.has_template and prompt.is_text_a_chat()
        return self.forced

    def validate(self, prompt: LmPrompt) -> None:
        bos = self.tokenizer.bos_token_id
        if prompt.add_bos_token and bos is None:
            raise ValueError("LmPrompt.add_bos_token=True, but this tokenizer has no BOS token; "
                             "leave add_bos_token=None")
        self._check_names(prompt)
        try:
            self.encode(prompt)
        except ValueError:
            raise
        except Exception as e:  # jinja2 errors: roles the template refuses, etc.
            raise ValueError(f"LmPrompt.text: the model's chat template refused this chat: {e}. "
                             "Change the turns (e.g. fold the system turn into the first "
                             "user turn) or use use_chat_mode=False") from e

    def _check_names(self, prompt: LmPrompt) -> None:
        """A turn's `name` must reach the model, or be refused (never silently dropped)."""
        if not prompt.is_text_a_chat() or all(t.name is None for t in prompt.get_text_as_chat()):
            return
        if not self.uses_template(prompt) or "name" not in (self.tokenizer.chat_template or ""):
            raise ValueError("LmChatTurn.name: this model's prompt format has no place for turn "
                             "names, so it would be dropped; put the name in the content instead")

    def _render(self, prompt: LmPrompt) -> str:
        turns = prompt.get_text_as_chat().as_dicts()
        # A last assistant turn is a prefill: the model continues it rather than starting a
        # new turn (transformers cuts the render right after that turn's content).
        prefill = bool(turns) and turns[-1]["role"] == "assistant"
        return self.tokenizer.apply_chat_template(
            turns, tokenize=False, add_generation_prompt=not prefill,
            continue_final_message=prefill)

    def render_chat(self, turns: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """`turns` as text, by the tokenizer's own chat template, the way lm-evaluation-harness
        renders a context for `--apply_chat_template` (`HFLM.apply_chat_template`): with the
        assistant's header after the last turn, or (`add_generation_prompt=False`) that
        last turn continued."""
        if not self.has_template:
            raise ValueError("apply_chat_template: this tokenizer has no chat_template; set "
                             "tokenizer.chat_template or score the plain text")
        try:
            text = self.tokenizer.apply_chat_template(
                turns, tokenize=False, add_generation_prompt=add_generation_prompt,
                continue_final_message=not add_generation_prompt)
        except Exception as e:  # jinja2 errors: a role the template refuses, etc.
            # (the harness drops the system turn then; we say so instead of dropping it)
            raise ValueError(f"apply_chat_template: the model's chat template refused these "
                             f"turns: {e}. Fold a system instruction into the context") from e
        return str(text)

    def encode(self, prompt: LmPrompt) -> list[int]:
        """The prompt's token ids (those in its `token_slice`, if it has one). A text
        prompt's are kept (up to `REMEMBERED` texts): one run asks for them up to four times
        (its validation, its window check, its batch, and scoring's count of the
        continuation), and a long text's windows all slice the same ids."""
        if prompt.is_text_a_chat():
            return _sliced(self._encode(prompt), prompt.token_slice)
        key = (prompt.get_text_as_string_default_form(), prompt.context_split,
               prompt.add_special_tokens, prompt.add_bos_token)
        ids = self._remembered.get(key)
        if ids is None:
            ids = tuple(self._encode(prompt))
            if len(self._remembered) >= REMEMBERED:
                self._remembered.clear()  # memory stays bounded; a big run rereads anyway
            self._remembered[key] = ids
        return _sliced(list(ids), prompt.token_slice)

    def _encode(self, prompt: LmPrompt) -> list[int]:
        if prompt.context_split is not None:
            if self.uses_template(prompt):
                raise ValueError("LmPrompt.context_split needs plain text, but this model "
                                 "wraps strings in its chat template (use_chat_mode=True); "
                                 "build it with use_chat_mode=None")
            ids, _ = encode_pair(self.tokenizer, prompt.get_text_as_string_default_form(),
                                 prompt.context_split, prompt.add_special_tokens)
            return self._fix_bos(ids, prompt.add_bos_token)
        if self.uses_template(prompt):
            ids = self.tokenizer(self._render(prompt), add_special_tokens=False)["input_ids"]
        else:
            text = prompt.get_text_as_string_default_form()
            ids = self.tokenizer(text, add_special_tokens=prompt.add_special_tokens)["input_ids"]
        ids = self._fix_bos(list(ids), prompt.add_bos_token)
        if not ids:
            if self.tokenizer.bos_token_id is None:
                raise ValueError("LmPrompt.text: the prompt is empty after tokenization and this "
                                 "tokenizer has no BOS token to start from; give some text")
            ids = [self.tokenizer.bos_token_id]
        return ids

    def _fix_bos(self, ids: list[int], add_bos: bool | None) -> list[int]:
        bos = self.tokenizer.bos_token_id
        if add_bos is None or bos is None:
            return ids
        has = bool(ids) and ids[0] == bos
        if add_bos and not has:
            return [bos, *ids]
        if not add_bos and has:
            return ids[1:]
        return ids


def _sliced(ids: list[int], window: tuple[int, int] | None) -> list[int]:
    if window is None:
        return ids
    start, end = window
    if end > len(ids):
        raise ValueError(f"LmPrompt.token_slice={window}: the prompt has only {len(ids)} "
                         "tokens; end the slice at most there")
    return ids[start:end]


def encoding_identity(has_template: bool, use_chat_mode: bool | None) -> dict[str, Any]:
    """What the model's identity (so every cache key) must say about encoding: whether chats
    use the template and, apart from that, whether strings do. None and True both template
    chats, but only True templates strings, so they must not share keys. Needs no tokenizer."""
    if use_chat_mode and not has_template:
        raise ValueError("use_chat_mode=True, but this tokenizer has no chat_template; set "
                         "tokenizer.chat_template or leave use_chat_mode=None")
    ident: dict[str, Any] = {"chat_mode": has_template if use_chat_mode is None else use_chat_mode}
    if use_chat_mode:  # absent otherwise, so the keys of existing caches stay as they were
        ident["strings"] = "chat_template"
    return ident


def folder_has_chat_template(folder: Path) -> bool:
    """Whether a saved tokenizer has a chat template, read from its files (no transformers)."""
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    if (folder / "additional_chat_templates").is_dir():
        return True
    config = folder / "tokenizer_config.json"
    if not config.is_file():
        return False
    return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
