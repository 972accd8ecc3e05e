"""The `lmwrapper` command.

    lmwrapper cache stats                      rows, errors, size and models in the cache
    lmwrapper cache clear [--older-than DAYS] [--model M] [--yes]
    lmwrapper cache export FILE.jsonl          one JSON line per cached sample

`--cache-dir DIR` (before the subcommand) picks the cache; otherwise the usual order applies:
`$LMWRAPPER_CACHE_DIR`, then `cache/` in the project root.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Sequence

from lmwrapper.sqlcache import get_cache


def _cache_stats(args: argparse.Namespace) -> int:
    stats = get_cache(args.cache_dir).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"cache: {stats['path']}")
    print(f"rows: {stats['rows']} ({stats['errors']} errors), {stats['bytes'] / 1e6:.2f} MB on disk")
    for m in stats["models"]:
        newest = datetime.fromtimestamp(m["newest"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        print(f"  {m['provider']}/{m['model']}: {m['rows']} rows, newest {newest} UTC")
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    what = "every row"
    if args.older_than is not None or args.model is not None:
        parts = [f"older than {args.older_than} days" if args.older_than is not None else "",
                 f"of model {args.model!r}" if args.model else ""]
        what = "rows " + " and ".join(p for p in parts if p)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"refusing to delete {what} without --yes (stdin is not a terminal)", file=sys.stderr)
            return 2
        if input(f"Delete {what} from the cache? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    n = get_cache(args.cache_dir).clear(older_than_days=args.older_than, model=args.model)
    print(f"deleted {n} rows")
    return 0


def _cache_export(args: argparse.Namespace) -> int:
    n = 0
    with open(args.file, "w", encoding="utf-8") as f:
        for row in get_cache(args.cache_dir).export_rows():
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    print(f"wrote {n} rows to {args.file}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmwrapper", description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", default=None, help="cache directory (default: see docs)")
    sub = parser.add_subparsers(dest="command", required=True)

    cache = sub.add_parser("cache", help="inspect or prune the on-disk cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    stats = cache_sub.add_parser("stats", help="rows, errors, size and models")
    stats.add_argument("--json", action="store_true", help="print as JSON")
    stats.set_defaults(func=_cache_stats)
    clear = cache_sub.add_parser("clear", help="delete rows (all, by age, by model)")
    clear.add_argument("--older-than", type=float, metavar="DAYS", default=None)
    clear.add_argument("--model", default=None, help="only rows of this model name")
    clear.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(func=_cache_clear)
    export = cache_sub.add_parser("export", help="write every cached sample as JSONL")
    export.add_argument("file")
    export.set_defaults(func=_cache_export)

    _add_backend_commands(sub)
    return parser


def _add_backend_commands(sub: argparse._SubParsersAction) -> None:
    try:
        from lmwrapper.cli_run import add_run_parser
    except ImportError:  # pragma: no cover - the run command ships with the OpenAI backend
        return
    add_run_parser(sub)
    from lmwrapper.cli_batch import add_batch_parser  # batch commands (cli_batch.py)
    add_batch_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
