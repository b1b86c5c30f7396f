"""Flags and environment of the web app (read here only), and its `main`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from qa.config import DEFAULT_INDEX_DIR, DEFAULT_SOURCES

# Open pages keep an event stream that never ends by itself: on Ctrl-C or SIGTERM, wait for open
# connections at most this long, not until every browser tab is closed.
SHUTDOWN_SECONDS = 5
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """USER:PASSWORD as a pair (None when not set)."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("credentials must be USER:PASSWORD")
    return user, password


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The app's flags; each defaults to its environment variable, then to the built-in default."""
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog=prog, description="Start the chat app over the indexed news (open http://HOST:PORT).",
        epilog="A build that publishes a new generation of the index (`qa build ... --out INDEX`) is served "
               "within a second or so, without a restart.",
    )
    parser.add_argument("--host", default=env("QA_HOST", "127.0.0.1"), help="address to listen on (default: %(default)s, or $QA_HOST); loopback unless told otherwise")
    parser.add_argument("--port", type=int, default=env("QA_PORT", "7860"), help="port (default: %(default)s, or $QA_PORT)")
    parser.add_argument("--index", default=env("QA_INDEX", DEFAULT_INDEX_DIR), help="index folder (default: %(default)s, or $QA_INDEX)")
    parser.add_argument("--seeds", default=env("QA_SEEDS", DEFAULT_SOURCES[0]), help="articles to index when the index is missing or older (default: %(default)s, or $QA_SEEDS)")
    parser.add_argument("--build", choices=("auto", "never", "always"), default=env("QA_BUILD", "auto"), help="auto: build when missing or stale (default: %(default)s, or $QA_BUILD)")
    parser.add_argument("--auth", default=env("QA_AUTH"), help="USER:PASSWORD required to use the app and the APIs (or $QA_AUTH; prefer the variable, a flag shows in `ps`)")
    parser.add_argument("--concurrency", type=int, default=env("QA_CONCURRENCY", "1"), help="questions answered at once (default: %(default)s, or $QA_CONCURRENCY)")
    parser.add_argument("--backlog", type=int, default=env("QA_BACKLOG", "32"), help="questions allowed to wait; more get 'busy' (default: %(default)s, or $QA_BACKLOG)")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Parse the flags, load (or build) the index, and serve until interrupted; `prog` names the command in --help."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        auth = parse_auth(args.auth)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.concurrency < 1 or args.backlog < 1:
        parser.error("--concurrency and --backlog must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Heavy imports (gradio, torch) only once the flags are known to be good: --help stays instant.
    import uvicorn

    from qa.web.server import create_app
    from qa.web.startup import open_engine

    if args.host not in LOOPBACK and auth is None:
        print(f"qa: warning: listening on {args.host} without --auth; anyone who can reach it can use it", file=sys.stderr)
    engine = open_engine(Path(args.index), Path(args.seeds), build=args.build, slots=args.concurrency, backlog=args.backlog)
    app = create_app(engine, auth=auth)
    print(f"qa: serving on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    return 0
