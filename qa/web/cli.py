"""Flags and environment of the web app (read here only), and its `main`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from qa.config import DEFAULT_INDEX_DIR, DEFAULT_SOURCES, STORES

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
    parser.add_argument("--llm", metavar="URL", default=env("QA_LLM_URL"), help="generate answers with an OpenAI-compatible chat server (Ollama, vLLM, llama.cpp, ...), e.g. http://127.0.0.1:11434/v1; every sentence is verified, extraction is the fallback (or $QA_LLM_URL; its API key from $QA_LLM_API_KEY only)")
    parser.add_argument("--llm-model", metavar="NAME", default=env("QA_LLM_MODEL", "default"), help="the model name the chat server knows (default: %(default)s, or $QA_LLM_MODEL)")
    parser.add_argument("--store", choices=STORES, default=env("QA_STORE", "faiss"), help="where the index lives: the --index folder (faiss) or a Milvus server/file (milvus) (default: %(default)s, or $QA_STORE)")
    parser.add_argument("--uri", default=env("QA_MILVUS_URI"), help="with --store milvus: a Milvus Lite file (./news.db) or a server (http://host:19530) (or $QA_MILVUS_URI)")
    parser.add_argument("--debug", action="store_true", default=bool(env("QA_DEBUG")), help="show every log line, the libraries' too (or $QA_DEBUG); they always go to the log file: $XDG_CACHE_HOME/qa/logs/app.log or ~/.cache/qa/logs/app.log, or $QA_LOG_FILE")
    parser.add_argument("--examples", metavar="FILE", default=env("QA_EXAMPLES"), help="the chat's example questions, one a line (or $QA_EXAMPLES); by default the newest titles of the index served, turned into questions (the seed article's questions on the seed index)")
    parser.add_argument("--collection", default=env("QA_MILVUS_COLLECTION"), help="with --store milvus: the alias the index is published under (default: qa_news, or $QA_MILVUS_COLLECTION); the token comes from $QA_MILVUS_TOKEN only")
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
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from qa.errors import SettingsError
    from qa.web.startup import configure_logging, read_examples

    examples = None
    if args.examples:
        try:
            examples = read_examples(Path(args.examples))
        except SettingsError as exc:
            parser.error(str(exc))

    # Before the heavy imports, so their log lines (faiss's loader) reach the log file too.
    log_file = configure_logging(debug=args.debug, log_file=Path(os.environ["QA_LOG_FILE"]) if os.environ.get("QA_LOG_FILE") else None)
    if log_file is not None and not args.debug:
        print(f"qa: starting (every log line: {log_file}; --debug shows them here)", file=sys.stderr, flush=True)
    # Heavy imports (gradio, torch) only once the flags are known to be good: --help stays instant.
    import uvicorn

    from qa.web.server import create_app
    from qa.web.startup import open_engine

    if args.host not in LOOPBACK and auth is None:
        print(f"qa: warning: listening on {args.host} without --auth; anyone who can reach it can use it", file=sys.stderr)
    store_options = {} if args.store == "faiss" else {
        "store": args.store, "uri": args.uri, "collection": args.collection, "token": os.environ.get("QA_MILVUS_TOKEN") or None}
    config = None
    if args.llm:
        from qa.llm import LLMConfig, llm_answerer

        try:
            # The key is read from the environment only (a flag shows in `ps`) and never printed.
            config = LLMConfig(args.llm, model=args.llm_model, api_key=os.environ.get("QA_LLM_API_KEY") or None)
        except SettingsError as exc:
            parser.error(str(exc))
    engine = open_engine(Path(args.index), Path(args.seeds), build=args.build, slots=args.concurrency, backlog=args.backlog,
                         store_options=store_options)
    if config is not None:
        engine.use_answerer(llm_answerer(config))
        print(f"qa: answers generated by {config.model} at {config.endpoint}, verified; extraction is the fallback", file=sys.stderr, flush=True)
    app = create_app(engine, auth=auth, examples=examples)
    print(f"qa: serving on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS)
    return 0
