"""The SQLite cache: the file, keys, rows, migrations, claims, batch-job records, merge.

Internal: the public way in is `lmwrapper.set_cache_dir` / `get_cache_dir` and the
`lmwrapper cache` command; module paths here may change.
"""
