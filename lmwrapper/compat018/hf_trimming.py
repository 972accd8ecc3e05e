"""A local model with lmwrapper 0.18's `prompt_trimmer` (`get_huggingface_lm(prompt_trimmer=)`).

Each string prompt's text goes through `trimmer.trim_text` before it is keyed, looked up and
run, so the cache key is that of the text the model saw and a rerun (which trims the same
way) is served from the cache. Chats are sent whole: trimming into a chat template, as 0.18
did after templating, would garble it. See `lmwrapper.compat018.prompt_trimming`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lmwrapper.core.prompt import LmPrompt
from lmwrapper.core.window import CompletionWindow
from lmwrapper.engine.plan import as_prompts
from lmwrapper.engine.run import Results
from lmwrapper.providers.huggingface.predictor import HuggingFacePredictor


class TrimmingHuggingFacePredictor(HuggingFacePredictor):
    """A `HuggingFacePredictor` that trims string prompts with `prompt_trimmer` first."""

    def __init__(self, *args: Any, prompt_trimmer: Any, **kwargs: Any) -> None:
        if not callable(getattr(prompt_trimmer, "trim_text", None)):
            raise TypeError("get_huggingface_lm(prompt_trimmer=...) needs an object with a "
                            "trim_text(text) method, e.g. lmwrapper.compat018.prompt_trimming."
                            f"HfTokenTrimmer; got {type(prompt_trimmer).__name__}")
        super().__init__(*args, **kwargs)
        self.prompt_trimmer = prompt_trimmer

    def _subclass_kwargs(self) -> dict[str, Any]:
        return {"prompt_trimmer": self.prompt_trimmer}  # with_settings keeps the trimmer

    def predict_many(self, prompts: Iterable[LmPrompt | str],
                     completion_window: CompletionWindow = CompletionWindow.ASAP,
                     **options: Any) -> Results:
        trimmed = [self._trimmed(p) for p in as_prompts(prompts)]
        return super().predict_many(trimmed, completion_window, **options)

    def _trimmed(self, prompt: LmPrompt) -> LmPrompt:
        if prompt.is_text_a_chat():
            return prompt
        text = self.prompt_trimmer.trim_text(prompt.text)
        if not isinstance(text, str):
            raise TypeError(f"prompt_trimmer.trim_text returned {type(text).__name__}; it must "
                            "return the trimmed text (a str)")
        return prompt if text == prompt.text else prompt.replace(text=text)

