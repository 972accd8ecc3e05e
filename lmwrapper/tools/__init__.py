"""Researcher tools on top of the front door: scoring as lm-evaluation-harness defines it
(`lmwrapper.tools.scoring`), sharding a dataset over a job array (`lmwrapper.tools.sharding`),
and the bundled demo (`python -m lmwrapper.tools.demo`). Public.
"""
