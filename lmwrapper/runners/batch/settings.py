"""Settings of the batch engine, each resolved once: argument, then `LMWRAPPER_BATCH_*`, then default.

    LMWRAPPER_BATCH_MAX_REQUESTS      requests per batch (default: the provider's; OpenAI 50,000,
                                      Anthropic 100,000); a larger value than the provider's is
                                      capped at the provider's
    LMWRAPPER_BATCH_MAX_BYTES         input file bytes per batch (OpenAI 200 MB, Anthropic 256 MB)
    LMWRAPPER_BATCH_TOKEN_LIMIT       enqueued-token limit per model (default: the tier table)
    LMWRAPPER_BATCH_POLL_S            first poll interval; it grows ×1.5 up to POLL_MAX_S
    LMWRAPPER_BATCH_POLL_MAX_S
    LMWRAPPER_BATCH_MAX_ATTEMPTS      times a line is sent before a transient failure is final
    LMWRAPPER_BATCH_KEEP_FILES=1      keep input/output files at the provider
    LMWRAPPER_BATCH_RESUBMIT_CANCELLED=0  a batch cancelled outside lmwrapper is not resent
    LMWRAPPER_BATCH_STALE_S           another machine's claim is taken over after this long
    LMWRAPPER_BATCH_MAX_WAIT_S        give up waiting after this long (the batches go on at the
                                      provider; a rerun or `batch wait` collects them). Default:
                                      no limit. `--max-wait` sets it for one command
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BatchSettings:
    max_requests: int | None = None  # None: the adapter's limit; never above it
    max_bytes: int | None = None
    token_limit: int | None = None  # None: the adapter's default for the model
    poll_s: float = 5.0
    poll_max_s: float = 60.0
    max_attempts: int = 3
    keep_files: bool = False
    resubmit_cancelled: bool = True
    stale_s: float = 3600.0  # another host's claim is taken over after this much silence
    max_wait_s: float | None = None  # None: wait as long as the batches take

    @classmethod
    def resolve(cls, **overrides: Any) -> BatchSettings:
        """Arguments first, then the environment, then the defaults."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env = os.environ.get(f"LMWRAPPER_BATCH_{_ENV_NAMES.get(f.name, f.name.upper())}")
            if f.name in overrides and overrides[f.name] is not None:
                values[f.name] = overrides[f.name]
            elif env:
                values[f.name] = _parse(f.name, env)
        return cls(**values)


_ENV_NAMES = {"poll_max_s": "POLL_MAX_S", "poll_s": "POLL_S", "max_wait_s": "MAX_WAIT_S"}


def _parse(name: str, raw: str) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(BatchSettings)}[name]
    try:
        if "bool" in str(kind):
            return raw.strip().lower() in ("1", "true", "yes")
        if "float" in str(kind):
            return float(raw)
        return int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"LMWRAPPER_BATCH_{name.upper()}={raw!r} is not a valid {kind}; "
                         "fix or unset the environment variable") from None
