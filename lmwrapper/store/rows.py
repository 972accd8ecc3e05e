"""The one row codec: a prediction ↔ its cache row.

A row is one sample of one prompt, `(key, sample_index)`:

    value     the prediction's fields that differ from their defaults, as JSON
              (`LmPrediction.cache_record`); the predictor's provider and model count as
              defaults, since they are in columns of their own
    blob      model internals (a local model's `internals_to_blob`), or NULL
    is_error  whether the prediction is an error (a prompt's own failure, cached as such)
    prompt    the prompt's canonical JSON (`keys.canonical_json`), stored once per key

`RowCodec` writes and reads the rows of one predictor; the engine's plan, the batch runner,
the batch collector and the cache's export all go through it, so a row reads back as the
prediction that was stored, however it was obtained.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmwrapper.core.prompt import LmPrediction, LmPrompt, cache_dict_reader, cache_reader
from lmwrapper.store.keys import prompt_json

# A stored sample as `SqlCache.get_many` returns it (a tuple of them per key):
# (sample_index, value_json, blob, is_error).
StoredSample = tuple[int, str, bytes | None, bool]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class CacheRow:
    key: str
    sample_index: int
    provider: str
    model: str
    is_error: bool
    value: str
    blob: bytes | None = None
    # The prompt's canonical JSON (`canonical_json`: what the key hashed), stored once per
    # key in `prompts` so a person can read what was asked; None stores none (old writers).
    prompt_json: str | None = None


class RowCodec:
    """How one predictor's predictions are stored: `defaults` (its provider and model, kept in
    columns, not in each record) and its internals' blob codec (`to_blob`, `from_blob`)."""

    __slots__ = ("_from_blob", "_read", "_shown", "_to_blob", "defaults")

    def __init__(self, defaults: Mapping[str, Any], to_blob: Callable[[Any], bytes | None],
                 from_blob: Callable[[bytes], Any]) -> None:
        self.defaults = defaults
        self._to_blob, self._from_blob = to_blob, from_blob
        self._read = cache_reader(defaults)  # `from_cache_record` with the defaults bound
        self._shown: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None

    def row(self, key: str, prediction: LmPrediction, canonical: str | None = None) -> CacheRow:
        """`prediction` (one sample) as the row to store under `key`; `canonical`: the
        prompt's `canonical_json`, when the caller kept it from computing the key."""
        p, defaults = prediction, self.defaults
        blob = self._to_blob(p.internals) if p.internals is not None else None
        return CacheRow(key, p.sample_index, defaults["provider"], defaults["model"],
                        p.has_errors, _ENCODER.encode(p.cache_record(defaults)), blob,
                        canonical or prompt_json(key, p.prompt))

    def prediction(self, sample: StoredSample, prompt: LmPrompt,
                   record: dict[str, Any] | None = None) -> LmPrediction:
        """A stored sample of `prompt` as a prediction (marked `was_cached`); `record`: its
        value already decoded (`records`). What a fully cached rerun calls once per prompt,
        as each is handed out: kept flat."""
        _, value, blob, _ = sample
        return self._read(_RAW_DECODE(value)[0] if record is None else record, prompt,
                          self._from_blob(blob) if blob is not None else None)

    def shown(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """A stored record (a row without internals) as its prediction's
        `to_dict(include_prompt=False)`, or None where only the prediction can say
        (`cache_dict_reader`, made on first use)."""
        if self._shown is None:
            self._shown = cache_dict_reader(self.defaults)
        return self._shown(record)

    def decode_into(self, samples: dict[int, LmPrediction], prompt: LmPrompt,
                    rows: Sequence[StoredSample], skip_errors: bool = False) -> None:
        """`rows` of `prompt`'s key into `samples` by sample index; `skip_errors` leaves out
        error rows (to be sent again)."""
        for row in rows:
            if not (row[3] and skip_errors):
                samples[row[0]] = self.prediction(row, prompt)


_RAW_DECODE = _DECODER.raw_decode  # not `json.loads`: no check for surrounding whitespace


def records(values: Sequence[str]) -> list[Any] | None:
    """The stored `values` decoded by one JSON parse of them joined as an array: a call into
    the decoder per value cost as much as the parse itself (5,000 values of a cached run's
    chunk: ~0.4 us each less). None when they do not parse as exactly that many values
    (a damaged row: each is then decoded alone, and the damaged one fails on its own)."""
    try:
        out = _DECODER.decode("[" + ",".join(values) + "]")
    except ValueError:
        return None
    return out if len(out) == len(values) else None


def exported(value: str, provider: str, model: str) -> dict[str, Any]:
    """A stored value as the prediction dict an export shows (without its prompt, given apart)."""
    pred = LmPrediction.from_cache_record(
        _DECODER.raw_decode(value)[0], prompt=None,  # type: ignore[arg-type]  # given apart
        defaults={"provider": provider, "model": model})
    return pred.to_dict(include_prompt=False)
