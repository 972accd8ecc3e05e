"""One tqdm bar for a batch job: prompts done, failed, batch statuses, estimated cost."""

from __future__ import annotations

import collections
import os
import sys
from typing import Any


class JobProgress:
    def __init__(self, bar: Any, estimate_usd: float | None) -> None:
        self.bar = bar
        self.failed = 0
        self.statuses: dict[str, str] = {}
        self.estimate = f"${estimate_usd:.4f}" if estimate_usd is not None else "?"

    @classmethod
    def maybe(cls, total: int, estimate_usd: float | None) -> JobProgress | None:
        """A bar when `LMWRAPPER_PROGRESS` says so (default: when stderr is a terminal)."""
        env = os.environ.get("LMWRAPPER_PROGRESS")
        show = env != "0" if env else sys.stderr.isatty()
        if not show or total == 0:
            return None
        from tqdm.auto import tqdm

        return cls(tqdm(total=total, desc="lmwrapper batch", unit="prompt", dynamic_ncols=True),
                   estimate_usd)

    def batch_status(self, uid: str, status: str) -> None:
        self.statuses[uid] = status
        self._postfix()

    def done(self, failed: bool) -> None:
        self.failed += failed
        self.bar.update(1)
        self._postfix()

    def _postfix(self) -> None:
        counts = collections.Counter(self.statuses.values())
        self.bar.set_postfix(failed=self.failed, batches=dict(counts) or "-",
                             est_cost=self.estimate, refresh=False)

    def close(self) -> None:
        self.bar.close()
