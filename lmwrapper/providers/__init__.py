"""One folder per provider, each translating prompts to requests and responses to
predictions; `registry.py` is the one list of them. The public factories are
`lmwrapper.get_lm`, `lmwrapper.openai_wrapper`, `lmwrapper.claude_wrapper` and
`lmwrapper.huggingface_wrapper`.

Internal: import from those public modules instead; module paths here may change.
"""
