"""The `lmwrapper` command.

    lmwrapper cache stats                      rows, errors, size, models and spend to date
    lmwrapper cache show [--model M] [--search TEXT] [--errors] [-n N] [--json]
                                               the newest prompts and answers
    lmwrapper cache clear [--older-than DAYS] [--model M] [--errors] [--yes]
    lmwrapper cache export FILE.jsonl          prompt + prediction per cached sample ('-': stdout)
    lmwrapper cache prune                      drop the claims of runs that died (SIGKILL, crash)
    lmwrapper models [--provider P] [--json]   every known model, its limits and prices

`--cache-dir DIR` (before the subcommand) picks the cache; otherwise the usual order applies:
`$LMWRAPPER_CACHE_DIR`, then `cache/` in the project root.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from lmwrapper._version import __version__
from lmwrapper.core.errors import LmWrapperError
from lmwrapper.core.models import today
from lmwrapper.core.money import format_usd
from lmwrapper.core.words import counted
from lmwrapper.providers.registry import same_provider, spelled
from lmwrapper.store.claims import count_claims, prune_claims
from lmwrapper.store.db import CACHE_FILE_NAME, SqlCache, get_cache, get_cache_dir
from lmwrapper.store.merge import add_merge_parser


def _existing_cache(args: argparse.Namespace) -> SqlCache | None:
    """The cache the flags point at, or None after saying there is none: reading a cache must
    not create one (a mistyped --cache-dir would otherwise look like an empty cache)."""
    directory = Path(args.cache_dir) if args.cache_dir is not None else get_cache_dir()
    path = directory / CACHE_FILE_NAME
    if not path.exists():
        print(f"lmwrapper cache {args.cache_command}: no cache file at {path}; nothing is cached "
              f"there (pick the cache with --cache-dir DIR or $LMWRAPPER_CACHE_DIR)", file=sys.stderr)
        return None
    return get_cache(directory)


def _cache_stats(args: argparse.Namespace) -> int:
    cache = _existing_cache(args)
    if cache is None:
        return 1
    stats = cache.stats()
    live, dead = count_claims(cache)
    if args.json:
        print(json.dumps({**stats, "claims": {"live": live, "dead": dead}}, indent=2))
        return 0
    print(f"cache: {stats['path']}")
    print(f"rows: {stats['rows']} ({counted(stats['errors'], 'error')}), {stats['bytes'] / 1e6:.2f} MB on disk")
    print(f"spent to date: {format_usd(stats['spent_usd'])} (what the cached answers cost to make)")
    for m in stats["models"]:
        newest = datetime.fromtimestamp(m["newest"], tz=UTC).strftime("%Y-%m-%d %H:%M")
        print(f"  {spelled(m['provider'], m['model'])}: {counted(m['rows'], 'row')}, spent "
              f"{format_usd(m['spent_usd'])}, newest {newest} UTC")
    if live or dead:
        print(f"claims: {live} held by running processes, {dead} left by runs that died "
              f"(`lmwrapper cache prune` drops those)")
    return 0


def _cache_prune(args: argparse.Namespace) -> int:
    """Drop the claims no live process holds; a running run's claims stay."""
    cache = _existing_cache(args)
    if cache is None:
        return 1
    dropped, kept = prune_claims(cache)
    print(f"dropped {dropped} claims of runs that died or whose lease ran out; kept {kept} "
          f"held by running processes")
    return 0


def _cache_show(args: argparse.Namespace) -> int:
    cache = _existing_cache(args)
    if cache is None:
        return 1
    found = _known_model(cache, args.model, "cache show", "nothing to show")
    if found is None:
        return 1
    provider, model = found
    rows = cache.recent_rows(n=args.n, model=model, search=args.search, errors_only=args.errors,
                             provider=provider)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if args.json
              else _readable(row, None if args.full else SHOW_CHARS))
    if not rows and not args.json:
        print("no cached rows match", file=sys.stderr)
    return 0


SHOW_CHARS = 1000  # per prompt turn and answer in `cache show`; --full shows them whole


def _clip(text: str, most: int | None) -> str:
    """`text`, or its start and end around a note of what was left out: a few-shot prompt of
    40,000 characters would hide the rows around it, and its question is at its end."""
    if most is None or len(text) <= most:
        return text
    half = most // 2
    return (f"{text[:half]} … [{len(text) - 2 * half:,} characters left out; --full shows "
            f"all] … {text[-half:]}")


def _readable(row: dict[str, Any], most: int | None = None) -> str:
    """One row as `llm logs` shows one: a heading, the prompt, the answer (each text clipped
    to `most` characters)."""
    when = datetime.fromtimestamp(row["created_at"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    pred = row["prediction"]
    head = f"## {when} UTC  {spelled(row['provider'], row['model'])}  key {row['key'][:12]}"
    if row["sample_index"]:
        head += f"  sample {row['sample_index']}"
    if pred.get("cost_usd"):
        head += f"  {format_usd(pred['cost_usd'])}"
    answer = (f"ERROR: {pred['error_message']}" if row["is_error"]
              else str(pred.get("completion_text") or ""))
    return f"{head}\n\n{prompt_text(row['prompt'], most)}\n\n{_clip(answer, most)}\n"


def prompt_text(canonical: dict[str, Any] | None, most: int | None = None) -> str:
    """A stored canonical prompt as a person reads it: `> text`, or `> role: content` turns."""
    if canonical is None:
        return "> (prompt not stored: this row was cached before lmwrapper stored prompts)"
    text = canonical.get("text")
    if isinstance(text, list):
        lines = [f"{t.get('role', '?')}: {_clip(str(t.get('content', '')), most)}" for t in text]
    else:
        lines = [_clip(str(text), most)]
    return "\n".join("> " + line for turn in lines for line in turn.splitlines() or [""])


def _cache_clear(args: argparse.Namespace) -> int:
    cache = _existing_cache(args)
    if cache is None:
        return 1
    found = _known_model(cache, args.model, "cache clear", "nothing deleted")
    if found is None:
        return 1
    provider, model = found
    what = _describe_rows(args.older_than, args.model, args.errors)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"refusing to delete {what} without --yes (stdin is not a terminal)", file=sys.stderr)
            return 2
        if input(f"Delete {what} from the cache? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    n = cache.clear(older_than_days=args.older_than, model=model, errors_only=args.errors,
                    provider=provider)
    print(f"deleted {counted(n, 'row')}")
    return 0


def _known_model(cache: SqlCache, wanted: str | None, command: str, outcome: str
                 ) -> tuple[str | None, str | None] | None:
    """(provider, model name) that `wanted` stands for, in the grammar `run --model` and
    `get_lm` take: `provider/name` (an alias too: `hf/...` is a row of `huggingface`,
    `claude/...` one of `anthropic`) names one provider's model, a bare `name` that model of
    any provider (provider None), no `--model` every model ((None, None)); None after saying
    that no row has it and which models the cache holds."""
    if wanted is None:
        return None, None
    stats = cache.stats()  # a scan of every row: only when a model is named
    prefix, _, rest = wanted.partition("/")
    for m in stats["models"]:
        if same_provider(prefix, m["provider"]) and rest == m["model"]:
            return str(m["provider"]), str(m["model"])
    for m in stats["models"]:
        if wanted == m["model"]:  # a bare name (a hub name has a slash of its own)
            return None, str(m["model"])
    present = [spelled(m["provider"], m["model"]) for m in stats["models"]]
    close = difflib.get_close_matches(wanted, present + [m["model"] for m in stats["models"]], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(present) if present else "none (the cache is empty)"
    print(f"lmwrapper {command}: no rows of model {wanted!r} in {stats['path']}; {outcome}."
          f"{hint} Models present: {listing}", file=sys.stderr)
    return None


def _describe_rows(older_than: float | None, model: str | None, errors: bool) -> str:
    if older_than is None and model is None and not errors:
        return "every row"
    parts = [f"older than {older_than:g} days" if older_than is not None else "",
             f"of model {model!r}" if model else ""]
    return " ".join(["error rows" if errors else "rows", " and ".join(p for p in parts if p)]).strip()


def _days(text: str) -> float:
    """`--older-than`: a finite number of days >= 0 (a negative age would reach into the
    future and match every row)."""
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and days >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of days >= 0 (e.g. 30); got {text!r}")
    return days


def _count(text: str) -> int:
    """`-n`: a whole number >= 0; 0 means every row (SQLite's LIMIT -1)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0 (0: all); got {text!r}")
    return n or -1


def _cache_export(args: argparse.Namespace) -> int:
    cache = _existing_cache(args)  # a missing or damaged cache fails before the file is made
    if cache is None:
        return 1
    if args.file == "-":
        n = _write_rows(cache, sys.stdout)
        print(f"wrote {counted(n, 'row')} to stdout", file=sys.stderr)
        return 0
    try:
        with open(args.file, "w", encoding="utf-8") as f:
            n = _write_rows(cache, f)
    except OSError as e:
        print(f"lmwrapper cache export: cannot write {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {counted(n, 'row')} to {args.file}")
    return 0


def _write_rows(cache: SqlCache, out: TextIO) -> int:
    n = 0
    for row in cache.export_rows():
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    out.flush()
    return n


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the whole usage block first); subcommand
    parsers inherit this class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lmwrapper", description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", default=None, help="cache directory (default: see docs)")
    parser.add_argument("--version", action="version", version=f"lmwrapper {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    cache = sub.add_parser("cache", help="inspect or prune the on-disk cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    stats = cache_sub.add_parser("stats", help="rows, errors, size and models")
    stats.add_argument("--json", action="store_true", help="print as JSON")
    stats.set_defaults(func=_cache_stats)
    show = cache_sub.add_parser("show", help="the newest prompts and answers (like `llm logs`)")
    show.add_argument("--model", "-m", default=None, help="only this model (name or provider/name)")
    show.add_argument("--search", "-q", default=None, metavar="TEXT",
                      help="only rows whose prompt or answer contains TEXT")
    show.add_argument("--errors", action="store_true", help="only cached errors")
    show.add_argument("-n", type=_count, default=3, metavar="N",
                      help="how many rows, newest first (default 3; 0: all)")
    show.add_argument("--json", action="store_true", help="one JSON object per row")
    show.add_argument("--full", action="store_true",
                      help=f"show long prompts and answers whole (default: the first and last "
                           f"{SHOW_CHARS // 2} characters of each)")
    show.set_defaults(func=_cache_show)
    clear = cache_sub.add_parser("clear", help="delete rows (all, by age, by model, errors)")
    clear.add_argument("--older-than", type=_days, metavar="DAYS", default=None,
                       help="only rows written more than DAYS days ago")
    clear.add_argument("--model", default=None,
                       help="only rows of this model (name or provider/name, see `cache stats`)")
    clear.add_argument("--errors", action="store_true",
                       help="only cached errors, so the next run asks again (combines with the others)")
    clear.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(func=_cache_clear)
    export = cache_sub.add_parser("export",
                                  help="write every cached sample with its prompt as JSONL")
    export.add_argument("file", help="JSONL file to write, or - for stdout")
    export.set_defaults(func=_cache_export)
    prune = cache_sub.add_parser(
        "prune", help="drop the claims of runs that died (a SIGKILLed process's); answers stay")
    prune.set_defaults(func=_cache_prune)
    add_merge_parser(cache_sub)

    models = sub.add_parser("models", help="every known model: limits, prices, downloaded")
    models.add_argument("--provider", "-p", default=None, help="only this provider (e.g. openai)")
    models.add_argument("--json", action="store_true", help="one JSON object per model")
    models.add_argument("--markdown", action="store_true",
                        help="a Markdown table with its source and date (for the docs)")
    models.set_defaults(func=_models)
    _add_backend_commands(sub)
    return parser


def _models(args: argparse.Namespace) -> int:
    from lmwrapper.providers.registry import facts_source, known_models

    try:
        entries = known_models(args.provider)
    except ValueError as e:
        print(f"lmwrapper models: {e}", file=sys.stderr)
        return 2
    if args.json:
        for m in entries:
            print(json.dumps(m.to_dict()))
        return 0
    if args.markdown:
        print(_models_markdown(entries, facts_source()))
        return 0
    print(f"{'model':38}{'endpoint':>10}{'context':>10}{'output':>9}{'live in/out $/Mtok':>20}"
          f"{'batch in/out':>15}  status")
    for m in entries:
        spec, endpoint, context, output, live, batch, status = _cells(m)
        print(f"{spec:38}{endpoint:>10}{context:>10}{output:>9}{live:>20}{batch:>15}  {status}")
    print(f"Prices in USD per million tokens (input/output); '-': not known. Any other name "
          f"works too (the provider's 404 catches a wrong one); any Hugging Face hub name or "
          f"model folder works as hf/NAME. Sources: {facts_source()}.")
    return 0


def _cells(m: Any) -> list[str]:
    """One model's row of `lmwrapper models`, as the table and the Markdown show it."""
    return [m.spec, m.endpoint or "", _num(m.context_window), _num(m.max_output_tokens),
            _prices(m.input_usd_per_mtok, m.output_usd_per_mtok),
            _prices(m.batch_input_usd_per_mtok, m.batch_output_usd_per_mtok), _status(m)]


def _status(m: Any) -> str:
    """`retired 2026-06-15`, `retires 2026-12-11`, downloaded or not, or nothing."""
    if m.local:
        return "downloaded" if m.downloaded else "not downloaded"
    if m.retires:
        past = date.fromisoformat(m.retires) <= today()
        return f"{'retired' if past else 'retires'} {m.retires}"
    return ""


def _models_markdown(entries: list[Any], source: str) -> str:
    """The docs' model table, stamped with its source and the day it was made."""
    rows = [("| model | endpoint | context | max output | live $/Mtok in/out | "
             "batch $/Mtok in/out | status |"), "|---|---|---:|---:|---:|---:|---|"]
    for m in entries:
        if not m.local:
            spec, *rest = _cells(m)
            rows.append(f"| `{spec}` | " + " | ".join(rest) + " |")
    return (f"Generated by `lmwrapper models --markdown` on {today()}. Sources: "
            f"{source}.\n\n" + "\n".join(rows))


def _num(n: int | None) -> str:
    return f"{n:,}" if n is not None else "-"


def _prices(usd_in: float | None, usd_out: float | None) -> str:
    if usd_in is None or usd_out is None:
        return "-"
    return f"{usd_in:g}/{usd_out:g}"


def _add_backend_commands(sub: argparse._SubParsersAction) -> None:
    try:
        from lmwrapper.cli.run import add_run_parser
    except ImportError:  # pragma: no cover - the run command ships with the OpenAI backend
        return
    add_run_parser(sub)
    from lmwrapper.cli.batch import add_batch_parser  # batch commands (cli_batch.py)
    add_batch_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except LmWrapperError as e:  # a damaged or locked cache, a bad setting: one line, no traceback
        print(f"lmwrapper: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # `run` reports what it saved itself; elsewhere nothing was sent
        print("lmwrapper: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lmwrapper cache export - | head`: the reader had enough
        # Python would report the pipe again when it flushes stdout at exit: point it at devnull.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """lmwrapper's own warnings (a retiring model, ...) as one line, like its errors."""
    if not category.__module__.startswith("lmwrapper"):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
        return
    print(f"lmwrapper: {category.__name__}: {message}", file=file or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
