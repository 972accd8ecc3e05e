"""How misses get answered: the live runner (concurrency, pacing, retries, one transport)
and the batch engine (plan, submit, poll, collect; resumable). Provider-neutral.

Internal: module paths here may change.
"""
