"""The `lmwrapper` command (`python -m lmwrapper`): run, batch, cache, models.

Internal: the command line is the interface; module paths here may change.
"""
