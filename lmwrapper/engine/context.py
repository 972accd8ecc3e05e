"""The context-window check: a prompt that cannot fit is refused before it is sent.

Each backend supplies the facts (`LmBackend.context_need`: its count of the prompt's
tokens, what the request reserves for output, the window, whether the count is exact); the
rule and its words are here, the same for every backend, local or API:

    >>> from lmwrapper.core.context import ContextNeed
    >>> need = ContextNeed(4000, 200, 4096, "tiktoken cl100k_base")
    >>> msg = refusal(need, "gpt-3.5-turbo-instruct")
    >>> msg.split(" (")[0], "+ max_tokens=200 > the context window of 4096 tokens" in msg
    ('prompt too long for gpt-3.5-turbo-instruct: 4000 prompt tokens', True)
    >>> refusal(ContextNeed(4000, 0, 4096, "tiktoken cl100k_base"), "x") is None
    True

A count that is exact is refused at window + 1. An estimate is refused only when even its low
end (the margin the backend states) cannot fit: a prompt that might fit is sent, and the
server judges it. A backend that does not know the window (a model no source describes, a
server of its own) says None, and nothing is refused.

A refused prompt is that prompt's error (`has_errors`, cached as the prompt's own, like any
permanent error), not an exception: the other prompts of the run are answered.
"""

from __future__ import annotations

from lmwrapper.core.context import ContextNeed


def refusal(need: ContextNeed | None, model: str) -> str | None:
    """Why the prompt cannot fit `model`'s window (the error message), or None if it may."""
    if need is None or need.fewest_tokens + need.output_tokens <= need.window:
        return None
    if need.exact:
        counted = f"{need.prompt_tokens} {need.counts} (counted with {need.counted_by}, exact)"
    else:
        counted = (f"about {need.prompt_tokens} {need.counts} (estimated: {need.counted_by}; at "
                   f"least {need.low} with the margin: {need.margin})")
    output = f" + {need.output_name}={need.output_tokens}" if need.output_tokens else ""
    return (f"prompt too long for {model}: {counted}{output} > the context window of "
            f"{need.window} tokens. Not sent (nothing was paid). {need.fix}")
