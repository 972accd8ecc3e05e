"""The front door (`LmPredictor`), planning (validate, key, dedupe, look up) and the run
that routes misses to a runner and yields in input order.

Internal: import `LmPredictor` and `RunSummary` from `lmwrapper`; module paths here may
change.
"""
