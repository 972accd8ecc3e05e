"""Greedy packing of request lines into batch input files, streamed to disk.

Lines are taken in order and appended to the current batch until the next one would break
a limit — requests per batch, input bytes, or enqueued tokens — then a new batch starts
(next-fit: for lines of similar size this gives the fewest batches, and it keeps results
arriving roughly in input order). Each line is written as it is built, so memory stays
flat however many lines a job has.

    >>> limits = BatchLimits(max_requests=2, max_bytes=10**6)
    >>> [b.lines for b in plan_files(lines, limits, tmp_dir)]   # 5 lines
    [2, 2, 1]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lmwrapper.runners.batch.adapter import BatchLimits
from lmwrapper.store.batch_records import new_id
from lmwrapper.store.journal import open_private, private_dir

_BUFFER = 1 << 20


@dataclass
class PlannedBatch:
    """One input file on disk and the custom ids in it."""

    uid: str
    path: Path
    custom_ids: list[str] = field(default_factory=list)
    bytes: int = 0
    tokens: int = 0

    @property
    def lines(self) -> int:
        return len(self.custom_ids)

    def fits(self, size: int, tokens: int, limits: BatchLimits) -> bool:
        if not self.custom_ids:
            return True  # a line alone always gets a batch (the provider judges it)
        return (self.lines + 1 <= limits.max_requests
                and self.bytes + size <= limits.max_bytes
                and (limits.enqueued_tokens is None or self.tokens + tokens <= limits.enqueued_tokens))


def plan_files(lines: Iterable[tuple[str, bytes, int]], limits: BatchLimits,
               directory: Path) -> Iterator[PlannedBatch]:
    """Pack `(custom_id, json_line_with_newline, tokens)` into batches, writing each file.

    A batch is yielded once its file is complete and flushed to disk.
    """
    private_dir(directory)
    current: PlannedBatch | None = None
    out: IO[bytes] | None = None
    for custom_id, data, tokens in lines:
        if current is not None and not current.fits(len(data), tokens, limits):
            yield _close(current, out)
            current = out = None
        if current is None:
            uid = new_id("lmwb")
            current = PlannedBatch(uid, directory / f"{uid}.jsonl")
            # a 1 MB buffer: a write call per ~1 MB, not per 8 KB (200 MB files)
            out = open_private(current.path, "wb", buffering=_BUFFER)  # closed in _close: 0600
        assert out is not None
        out.write(data)
        current.custom_ids.append(custom_id)
        current.bytes += len(data)
        current.tokens += tokens
    if current is not None:
        yield _close(current, out)


def _close(batch: PlannedBatch, out: IO[bytes] | None) -> PlannedBatch:
    import os

    if out is not None:
        out.flush()
        os.fsync(out.fileno())  # the file must exist on disk before its record says "planned"
        out.close()
    return batch
