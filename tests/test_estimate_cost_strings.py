"""`estimate_cost` reads a bare string as `predict_many` does (`LmPrompt(text, max_tokens=100)`),
so the estimate a user asks for before a run covers the very list they will send."""

from lmwrapper.claude_wrapper import get_claude_lm
from lmwrapper.openai_wrapper import get_open_ai_lm
from lmwrapper.structs import LmPrompt


def test_openai_and_claude_estimate_a_bare_string_as_predict_many_sends_it():
    for lm in (get_open_ai_lm("gpt-5.4-mini", api_key_secret="sk-unused"),
               get_claude_lm("claude-3-5-haiku", api_key_secret="unused")):
        assert lm.estimate_cost(["What is 2+2?"]) == lm.estimate_cost(
            [LmPrompt("What is 2+2?", max_tokens=100)])
