"""`python -m lmwrapper.testing`: run the fake OpenAI + Anthropic server until Ctrl-C.

    $ python -m lmwrapper.testing --port 8765 --latency 0.1 --rate-limit-fraction 0.2
    OPENAI_BASE_URL=http://127.0.0.1:8765/v1
    ANTHROPIC_BASE_URL=http://127.0.0.1:8765

Point any OpenAI or Anthropic client at those URLs with any non-empty key.
"""

from __future__ import annotations

import argparse
import threading

from lmwrapper.testing.server import APIS, FakeServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lmwrapper.testing", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds per model call")
    p.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    p.add_argument("--context-limit", type=int, default=None,
                   help="tokens per request (default: each model's own context window, as "
                        "lmwrapper's model facts give it; 128,000 for a model they lack)")
    p.add_argument("--rate-limit-fraction", type=float, default=0.0,
                   help="share of model calls answered 429 (seeded)")
    p.add_argument("--error-fraction", type=float, default=0.0,
                   help="share of model calls answered 500 (seeded)")
    p.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of the 429s")
    p.add_argument("--model", action="append", default=[], metavar="NAME",
                   help="serve NAME although no model list knows it (repeatable); other "
                        "unknown names get the provider's 404, as the real API answers them")
    p.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    return p.parse_args(argv)


def build(args: argparse.Namespace) -> FakeServer:
    srv = FakeServer(port=args.port, host=args.host, latency=args.latency,
                     api_key=args.api_key, context_limit=args.context_limit,
                     extra_models=set(args.model), verbose=args.verbose)
    if args.rate_limit_fraction:
        srv.rate_limit(times=None, fraction=args.rate_limit_fraction,
                       retry_after=args.retry_after)
    if args.error_fraction:
        srv.server_error(times=None, fraction=args.error_fraction, seed=1)
    return srv


def main(argv: list[str] | None = None) -> None:
    with build(parse_args(argv)) as srv:
        for api in APIS.values():  # each provider's fake says which variable points at it
            if api.base_url_var:
                print(f"{api.base_url_var}={srv.url}{api.base_path}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
