"""Values and contracts: prompts, predictions, chats, errors, money, model facts, the
runner contract. Imports nothing else of lmwrapper (see `.importlinter`).

Internal: import the public names from `lmwrapper` instead; module paths here may change.
"""
