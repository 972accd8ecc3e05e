"""A dataset over a job array: each task takes a deterministic share of the prompts.

A prompt belongs to shard `shard_of(key, n)`, where `key` is its cache key (the prompt's
canonical JSON plus the model's identity). The share therefore depends neither on the line
order of the input nor on which task reads it, and identical prompts always land in the same
shard, so no prompt is ever sent by two tasks:

    >>> indices, mine = select_shard(lm, prompts, 2, 4)   # task 2 of 0..3
    >>> results = list(lm.predict_many(mine))

Shards are numbered from 0. Under a Slurm array, `parse_shard("auto")` reads
`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN` (and `_STEP`) and `SLURM_ARRAY_TASK_COUNT`, so
`--array=0-3`, `--array=1-4` and `--array=0-30:10` all give shards 0..3 of 4.

Each task writes into its own cache directory on local disk; `lmwrapper cache merge` (in
Python `merge_caches(sources, dest)`, which returns a `MergeReport`) joins the files, and a
rerun of the whole dataset against the merged cache writes the complete, ordered output
without a call.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lmwrapper.core.prompt import LmPrompt
from lmwrapper.store.keys import prompt_key
from lmwrapper.store.merge import Conflict, MergeError, MergeReport, merge_caches

if TYPE_CHECKING:
    from lmwrapper.engine.predictor import LmPredictor

__all__ = ["Conflict", "MergeError", "MergeReport", "merge_caches", "parse_shard", "select_shard",
           "shard_of"]

SHARD_HELP = ("run only shard K of N (0 <= K < N) of the input, chosen by each prompt's cache "
              "key; 'auto' reads SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")


def shard_of(key: str, n: int) -> int:
    """The shard (0..n-1) a cache key belongs to: stable across machines, runs and versions.

    The key is hashed once more, so that any string (not only a hex sha256) spreads evenly.
    """
    if n < 1:
        raise ValueError(f"the number of shards must be >= 1; got {n}")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def select_shard(lm: LmPredictor, prompts: Sequence[LmPrompt | str], k: int,
                 n: int) -> tuple[list[int], list[LmPrompt]]:
    """The input positions and prompts of shard `k` of `n`, in input order."""
    _check_shard(k, n)
    ident = lm.identity_json()
    indices: list[int] = []
    chosen: list[LmPrompt] = []
    for i, p in enumerate(prompts):
        prompt = p if isinstance(p, LmPrompt) else LmPrompt(p)
        if shard_of(prompt_key(prompt.canonical(), ident), n) == k:
            indices.append(i)
            chosen.append(prompt)
    return indices, chosen


def parse_shard(spec: str, environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """`"K/N"` → (K, N); `"auto"` → this Slurm array task's (K, N). ValueError says the fix."""
    spec = spec.strip()
    if spec.lower() == "auto":
        return _slurm_shard(os.environ if environ is None else environ)
    k_text, sep, n_text = spec.partition("/")
    try:
        if not sep:
            raise ValueError
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise ValueError(f"--shard must be K/N (e.g. 0/4 for the first of 4 shards) or 'auto'; "
                         f"got {spec!r}") from None
    _check_shard(k, n)
    return k, n


def _check_shard(k: int, n: int) -> None:
    if n < 1:
        raise ValueError(f"shard count N must be >= 1; got {n}")
    if not 0 <= k < n:
        raise ValueError(f"shard K must be in 0..{n - 1} for N={n} (shards count from 0); got {k}")


def _slurm_shard(env: Mapping[str, str]) -> tuple[int, int]:
    task_id, count = env.get("SLURM_ARRAY_TASK_ID"), env.get("SLURM_ARRAY_TASK_COUNT")
    if not task_id or not count:
        raise ValueError(
            "--shard auto needs SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, which Slurm sets "
            "in the tasks of a job array (sbatch --array=0-3); outside Slurm pass --shard K/N")
    try:
        first = int(env.get("SLURM_ARRAY_TASK_MIN") or 0)
        step = int(env.get("SLURM_ARRAY_TASK_STEP") or 1)
        k, n = (int(task_id) - first) // step, int(count)
    except ValueError:
        raise ValueError(f"--shard auto: SLURM_ARRAY_TASK_ID={task_id!r}, SLURM_ARRAY_TASK_COUNT="
                         f"{count!r} are not numbers; pass --shard K/N instead") from None
    if not 0 <= k < n:
        raise ValueError(
            f"--shard auto: task {task_id} (min {first}, step {step}) is not one of {n} evenly "
            f"spaced tasks; use a plain range such as --array=0-{n - 1}, or pass --shard K/N")
    return k, n


# -- the `lmwrapper run --shard` hook --------------------------------------------------------


def add_shard_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--shard K/N|auto` to a command (checked when the command line is parsed)."""
    parser.add_argument("--shard", default=None, metavar="K/N|auto", type=_shard_arg,
                        help=SHARD_HELP)


def _shard_arg(spec: str) -> tuple[int, int]:
    try:
        return parse_shard(spec)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def apply_shard(args: argparse.Namespace, lm: LmPredictor, prompts: Sequence[LmPrompt],
                ids: Sequence[Any]) -> tuple[list[LmPrompt], list[Any]]:
    """This shard's prompts and ids (all of them without `--shard`); says on stderr what it took."""
    shard = getattr(args, "shard", None)
    if shard is None:
        return list(prompts), list(ids)
    k, n = parse_shard(shard) if isinstance(shard, str) else shard
    indices, chosen = select_shard(lm, prompts, k, n)
    print(f"lmwrapper: shard {k}/{n}: {len(chosen)} of {len(prompts)} prompts", file=sys.stderr)
    return chosen, [ids[i] for i in indices]
