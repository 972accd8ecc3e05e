"""The exit codes of every `lmwrapper` command, for scripts, Makefiles and job arrays.

    0    everything asked for was done (`run`: every prompt answered without an error)
    1    some prompts failed (their count on stderr; `run` still writes every line, the failed
         ones holding their error), or the command stopped with an error (no key, a damaged
         cache, a provider that refused the batch, `--max-wait` passed)
    2    usage: a bad flag, input file, model name or job id; nothing was sent
    130  interrupted (Ctrl-C); what was answered is in the cache, a rerun resumes
"""

from __future__ import annotations

import sys

from lmwrapper.core.words import counted, noun

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


def exit_for_errors(failed: int, total: int, allow_errors: bool = False, *,
                    fresh: int | None = None) -> int:
    """FAILED when `failed` of `total` prompts were answered with an error, saying how many
    on stderr (a Slurm array or a Makefile must be able to tell a failed shard); OK when none
    failed, or with `--allow-errors`. `fresh`: how many of them failed in this run (the run
    summary's "failed"); the others are errors an earlier run cached, which the summary counts
    as "cached", so the message says so."""
    if not failed:
        return OK
    old = failed - fresh if fresh is not None and fresh < failed else 0
    cached = (f"; {old} of them cached by an earlier run, not sent again: `lmwrapper cache "
              f"clear --errors` makes the next run ask" if old else "")
    print(f"lmwrapper run: {failed} of {counted(total, 'prompt')} failed (their output "
          f"{noun(failed, 'line holds', 'lines hold')} the error; `lmwrapper cache show --errors` shows why){cached}"
          + ("; exit 0 (--allow-errors)" if allow_errors else ""), file=sys.stderr)
    return OK if allow_errors else FAILED
