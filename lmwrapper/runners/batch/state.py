"""`RunState`: a running batch job as its steps (`submit.py`, `collector.py`) see it.

`BatchRunner` is one; the steps name this protocol instead of the runner, so the runner
imports its steps and nothing imports the runner back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from lmwrapper.core.contract import Job
from lmwrapper.runners.batch.adapter import BatchAdapter, BatchBackend, BatchLimits
from lmwrapper.runners.batch.progress import JobProgress
from lmwrapper.runners.batch.settings import BatchSettings
from lmwrapper.store.batch_records import Records


class RunState(Protocol):
    lm: BatchBackend
    adapter: BatchAdapter
    settings: BatchSettings
    records: Records
    limits: BatchLimits  # lowered by a collect whose batch was too big
    directory: Path  # where input files are written
    owner: str  # this process's owner id in the records
    fresh: set[str]  # batches planned by this run (no recovery needed)
    jobs: dict[str, Job]  # key → job of this run
    progress: JobProgress

    def split_requests(self, lines: int, batch: str, limit: int | None = None) -> None:
        """Plan the rest in batches of `limit` requests (the provider's, where it named it),
        else of half as many as `lines`."""
        ...
