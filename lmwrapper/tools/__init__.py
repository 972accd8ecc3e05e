"""Researcher tools on top of the front door: scoring as lm-evaluation-harness defines it
(`lmwrapper.tools.scoring`), sharding a dataset over a job array and merging the shards'
caches (`lmwrapper.tools.sharding`), submitting to a batch API now and collecting later
(`lmwrapper.tools.batch`), and the bundled demo (`python -m lmwrapper.tools.demo`). Public.
"""
