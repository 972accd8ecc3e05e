"""Progress of a batch job: batch statuses always (for `BatchRunner.status()`), and a tqdm bar
(prompts done, failed, batch statuses, estimated cost at the batch price) when asked.

Inside `predict_many` the engine draws the run's one bar, so the runner draws none by
default; it shows `status()` for the engine's bar to display. `lmwrapper batch wait` has no
engine bar and asks for this one.
"""

from __future__ import annotations

import collections
from typing import Any

from lmwrapper.core.money import format_usd


class JobProgress:
    def __init__(self, total: int, estimate_usd: float | None, show: bool) -> None:
        self.failed = 0
        self.statuses: dict[str, str] = {}  # batch uid → the provider's status
        self.estimate = format_usd(estimate_usd) if estimate_usd is not None else "?"
        self.bar: Any = None
        if show and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="lmwrapper batch", unit="prompt", dynamic_ncols=True)

    def counts(self) -> dict[str, int]:
        """Batches by provider status, e.g. {"in_progress": 3, "completed": 1}."""
        return dict(collections.Counter(self.statuses.values()))

    def batch_status(self, uid: str, status: str) -> None:
        self.statuses[uid] = status
        self._postfix()

    def done(self, failed: bool) -> None:
        self.failed += failed
        if self.bar is not None:
            self.bar.update(1)
        self._postfix()

    def _postfix(self) -> None:
        if self.bar is not None:
            # "in_progress:2 completed:1", not a dict's repr with its braces and quotes
            batches = " ".join(f"{k}:{v}" for k, v in self.counts().items()) or "-"
            self.bar.set_postfix(failed=self.failed, batches=batches, est_cost=self.estimate,
                                 refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
