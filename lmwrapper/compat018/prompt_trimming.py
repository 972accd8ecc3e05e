"""lmwrapper 0.18's prompt trimmers: keep the end of a text that is too long for the model.

    trimmer = HfTokenTrimmer(1000, lm.tokenizer)          # at most 1000 tokens, from the end
    prompt = LmPrompt(trimmer.trim_text(long_document + question), max_tokens=20)

or, as in 0.18, `get_huggingface_lm(path, prompt_trimmer=trimmer)`, which trims every
string prompt before it is keyed and run (`pred.prompt` is the prompt as sent). A chat is
never trimmed (cutting into its template would garble it): a chat that does not fit comes
back as an error prediction. Tokenizers load only when a trimmer is built with one.
"""

from __future__ import annotations

from typing import Any


class PromptTrimmer:
    """Something that shortens a prompt's text (by default keeping its end)."""

    def trim_text(self, text: str | list[str]) -> str:
        """The trimmed text; a list is trimmed without splitting any of its elements."""
        raise NotImplementedError


class CharPromptTrimmer(PromptTrimmer):
    """At most `char_limit` characters: the last ones."""

    def __init__(self, char_limit: int) -> None:
        self.char_limit = char_limit

    def trim_text_line_level(self, text: str) -> str:
        """The last whole lines that fit."""
        lines = [line + "\n" for line in text.split("\n")]
        lines[-1] = lines[-1][:-1]
        return self.trim_text(lines)

    def trim_text(self, text: str | list[str]) -> str:
        if isinstance(text, str):
            return text[len(text) - min(self.char_limit, len(text)):]
        kept, size = 0, 0  # as many whole elements from the end as fit
        for piece in reversed(text):
            size += len(piece)
            if size > self.char_limit:
                break
            kept += 1
        return "".join(text[len(text) - kept:])


class TrimmingTokenizer:
    """Splits a text into token strings that join back into the text."""

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError


class HfTrimmingTokenizer(TrimmingTokenizer):
    """A Hugging Face tokenizer's tokens, each as text (`" Paris"`, not `"ĠParis"`)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    def tokenize(self, text: str) -> list[str]:
        ids = self._tokenizer(text, add_special_tokens=False).input_ids
        return [self._tokenizer.decode([i]) for i in ids]


class TikTokenTrimmingTokenizer(TrimmingTokenizer):
    """A tiktoken encoding's tokens, each as text."""

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding

    def tokenize(self, text: str) -> list[str]:
        return [self._encoding.decode([t])
                for t in self._encoding.encode(text, allowed_special="all")]


class GenericTokenTrimmer(PromptTrimmer):
    """At most `token_limit` tokens of `tokenizer`: the first ones when
    `start_from_left_side` (0.18's default), else the last ones."""

    def __init__(self, token_limit: int, tokenizer: TrimmingTokenizer,
                 start_from_left_side: bool = True) -> None:
        self.token_limit = token_limit
        self.tokenizer = tokenizer
        self.start_from_left_side = start_from_left_side

    def trim_text(self, text: str | list[str]) -> str:
        if not isinstance(text, str):
            raise NotImplementedError("GenericTokenTrimmer trims a str; join the list first")
        tokens = self.tokenizer.tokenize(text)
        if len(tokens) <= self.token_limit:
            return text
        kept = tokens[:self.token_limit] if self.start_from_left_side else tokens[-self.token_limit:]
        return "".join(kept)


class HfTokenTrimmer(PromptTrimmer):
    """At most `token_limit` tokens of a Hugging Face tokenizer: the last ones when
    `start_from_left_side` (the tokenizer truncates from the left), else the first ones."""

    def __init__(self, token_limit: int, tokenizer: Any, start_from_left_side: bool = True) -> None:
        self.token_limit = token_limit
        self.tokenizer = tokenizer
        self.start_from_left_side = start_from_left_side

    def trim_text(self, text: str | list[str]) -> str:
        if not isinstance(text, str):
            raise NotImplementedError("HfTokenTrimmer trims a str; join the list first")
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        if len(ids) <= self.token_limit:
            return text  # unchanged, not re-decoded (decoding may normalise spaces)
        kept = ids[-self.token_limit:] if self.start_from_left_side else ids[:self.token_limit]
        return str(self.tokenizer.decode(kept))


__all__ = ["CharPromptTrimmer", "GenericTokenTrimmer", "HfTokenTrimmer", "HfTrimmingTokenizer",
           "PromptTrimmer", "TikTokenTrimmingTokenizer", "TrimmingTokenizer"]
