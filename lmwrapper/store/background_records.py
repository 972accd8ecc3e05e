"""Background responses as records in the cache database (`background_responses`).

    creating ─► created ─► answered          (forgotten once the cache holds its samples)
       │           │
       └───────────┴─► forgotten             (the provider refused it, or it failed: a
                                              rerun creates it again)

A record is written, durably, *before* its request is created at the provider (`creating`,
with a marker of ours that the request carries in its metadata), and given the provider's
id the moment the create returns (`created`). A run killed while it waits finds the record
on its next run and polls that id: the answer is collected, not paid for twice. A record
still `creating` is a request that may or may not exist at the provider (the process died
inside the create): the runner says so, as the provider has no way to look it up.

Every statement on this table is here; the runner (`lmwrapper.runners.background`) calls
these methods.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from lmwrapper.store.db import SqlCache

CREATING, CREATED, ANSWERED = "creating", "created", "answered"
_COLS = ("marker, key, first_sample, n, provider, model, window, response_id, state, "
         "created_at")


@dataclass(frozen=True)
class BackgroundRow:
    marker: str
    key: str
    first_sample: int
    n: int
    provider: str
    model: str
    window: str
    response_id: str | None
    state: str
    created_at: float

    @property
    def samples(self) -> range:
        return range(self.first_sample, self.first_sample + self.n)


class BackgroundRecords:
    """The background responses of one cache file."""

    def __init__(self, cache: SqlCache) -> None:
        self.cache = cache

    def of_keys(self, keys: list[str]) -> dict[str, list[BackgroundRow]]:
        """The records of `keys`, oldest first."""
        out: dict[str, list[BackgroundRow]] = {}
        q = (f"SELECT {_COLS} FROM background_responses WHERE key IN "
             "(SELECT value FROM json_each(?)) ORDER BY created_at")
        for start in range(0, len(keys), 20_000):
            for r in self.cache.query(q, (json.dumps(keys[start : start + 20_000]),)):
                row = BackgroundRow(*r)
                out.setdefault(row.key, []).append(row)
        return out

    def every(self) -> list[BackgroundRow]:
        """Every record of this cache file, oldest first (`lmwrapper batch list`)."""
        return [BackgroundRow(*r) for r in self.cache.query(
            f"SELECT {_COLS} FROM background_responses ORDER BY created_at")]

    def of_response(self, response_id: str) -> BackgroundRow | None:
        """The record of the provider's response `response_id`, if this cache has one."""
        rows = self.cache.query(f"SELECT {_COLS} FROM background_responses WHERE "
                                "response_id = ?", (response_id,))
        return BackgroundRow(*rows[0]) if rows else None

    def pending(self, keys: list[str]) -> int:
        """How many of `keys` have a response a background run created and has not
        collected (one query when there are none: the usual case)."""
        if not self.cache.query("SELECT 1 FROM background_responses LIMIT 1"):
            return 0
        return len(self.of_keys(keys))

    def intend(self, row: BackgroundRow) -> None:
        """Record a request about to be created (`creating`): on disk before it is sent."""
        with self.cache.durable_write() as c:
            c.execute(f"INSERT INTO background_responses ({_COLS}, updated_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (row.marker, row.key, row.first_sample, row.n, row.provider, row.model,
                       row.window, None, CREATING, row.created_at, row.created_at))

    def created(self, marker: str, response_id: str) -> None:
        """The provider's id of a created request, on disk before anything else is done."""
        self._set(marker, CREATED, response_id, durable=True)

    def answered(self, marker: str) -> None:
        """Its answer was handed to the run (which stores it): kept until the cache holds
        it (`forget_stored`), so a run killed in between polls the id again."""
        self._set(marker, ANSWERED, None)

    def forget(self, marker: str) -> None:
        with self.cache.write() as c:
            c.execute("DELETE FROM background_responses WHERE marker = ?", (marker,))

    def forget_stored(self) -> int:
        """Forget the records whose samples the cache holds (collected, or answered another
        way since); how many."""
        with self.cache.write() as c:
            return int(c.execute(
                "DELETE FROM background_responses WHERE n <= (SELECT count(*) FROM predictions "
                "p WHERE p.key = background_responses.key AND p.sample_index >= first_sample "
                "AND p.sample_index < first_sample + n)").rowcount)

    def _set(self, marker: str, state: str, response_id: str | None, *,
             durable: bool = False) -> None:
        write = self.cache.durable_write if durable else self.cache.write
        with write() as c:
            c.execute("UPDATE background_responses SET state = ?, response_id = "
                      "coalesce(?, response_id), updated_at = ? WHERE marker = ?",
                      (state, response_id, time.time(), marker))


__all__ = ["ANSWERED", "CREATED", "CREATING", "BackgroundRecords", "BackgroundRow"]
