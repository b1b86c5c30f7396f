"""The `qa` command line: build the index, search it. Errors become one-line messages and exit codes.

Over 500 lines: one parser and one handler per subcommand, kept together so `qa --help` and the handlers cannot drift.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import qa
from qa.config import (
    ANSWERERS,
    DEFAULT_INDEX_DIR,
    DEFAULT_SOURCES,
    FLAT_MAX_PASSAGES,
    INDEX_TYPES,
    MODES,
    PRECISIONS,
    STORES,
    Settings,
)
from qa.errors import QueryError
from qa.records import Filters
from qa.text import detect_language, format_published

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        # The web app parses its own flags (`qa serve --help`).
        from qa.serve import main as serve

        try:
            return serve(argv[1:])
        except qa.QAError as exc:
            print(f"qa: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from qa.web.startup import configure_logging

    # Our warnings here; the libraries' lines (the int8 export's quantizer, TracerWarnings) in the log file, or here with --debug.
    configure_logging(debug=args.debug)
    try:
        return args.run(args)
    except qa.QAError as exc:
        if args.debug:
            raise
        print(f"qa: error: {exc}", file=sys.stderr)
        # A question the library refuses is bad usage, like a bad flag.
        return EXIT_USAGE if isinstance(exc, QueryError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Question answering over news articles, Arabic first.")
    parser.add_argument("--version", action="version", version=f"qa {qa.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks, and the libraries' log lines (always in ~/.cache/qa/logs/app.log)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    index_default = os.environ.get("QA_INDEX", DEFAULT_INDEX_DIR)

    commands.add_parser("serve", help="start the web app (qa serve --help)", add_help=False)
    build = commands.add_parser("build", help="(re)build the index of articles", description="Build or rebuild the index.")
    build.add_argument("sources", nargs="*", help=f"article files, folders, .jsonl(.gz) files, feed or page URLs, saved pages and feeds, CSV/TSV/Parquet files (default: {' '.join(DEFAULT_SOURCES)})")
    build.add_argument("--out", default=index_default, help="index folder (default: %(default)s, or $QA_INDEX)")
    build.add_argument("--model", default=os.environ.get("QA_MODEL", Settings.model), help="sentence-transformers model name or folder (default: %(default)s)")
    build.add_argument("--chunk-tokens", type=int, default=Settings.chunk_tokens, help="passage window in model tokens (default: %(default)s)")
    build.add_argument("--overlap", type=int, default=Settings.overlap_sentences, help="sentences repeated between passages (default: %(default)s)")
    build.add_argument("--batch-size", type=int, default=Settings.batch_size, help="passages per embedding batch (default: %(default)s)")
    build.add_argument("--precision", choices=PRECISIONS, default=Settings.precision, help="embedding precision (default: %(default)s: int8 through ONNX Runtime, or bf16 on CPUs with AMX)")
    build.add_argument("--index-type", choices=INDEX_TYPES, default=Settings.index_type, help="vector index: exact (flat), approximate (hnsw), or auto: flat up to %d passages (default: %%(default)s)" % FLAT_MAX_PASSAGES)
    build.add_argument("--force", action="store_true", help="chunk and embed everything again instead of reusing the current index")
    build.add_argument("--strict", action="store_true", help="stop at the first bad input instead of skipping it")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    _add_source_options(build)
    _add_store_options(build)
    build.set_defaults(run=_build)

    watch = commands.add_parser("watch", help="poll feeds, pages and files, and add what is new to the index",
                                description="Poll the sources every so often (feeds with conditional GET), spool new articles and update the index incrementally; one line per source per round.")
    watch.add_argument("sources", nargs="+", help="feed or page URLs, feed/page/CSV/TSV/Parquet files, folders, .txt/.md or .jsonl(.gz) files")
    watch.add_argument("--every", default="15m", help="time between rounds: 90, 30s, 15m, 2h (default: %(default)s)")
    watch.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (default: 0, never)")
    watch.add_argument("--out", default=index_default, help="index folder (default: %(default)s, or $QA_INDEX)")
    watch.add_argument("--model", default=os.environ.get("QA_MODEL", Settings.model), help="sentence-transformers model name or folder (default: %(default)s)")
    watch.add_argument("--precision", choices=PRECISIONS, default=Settings.precision, help="embedding precision (default: %(default)s)")
    watch.add_argument("--json", action="store_true", help="one JSON object per source per round, and one per build")
    _add_source_options(watch)
    _add_store_options(watch)
    watch.set_defaults(run=_watch)

    search = commands.add_parser("search", help="find the passages that answer a question", description="Search the index.")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=Settings.top_k, help="number of passages (default: %(default)s)")
    search.add_argument("--index", default=index_default, help="index folder (default: %(default)s, or $QA_INDEX)")
    search.add_argument("--json", action="store_true", help="one JSON object per hit, one per line")
    _add_search_options(search)
    _add_store_options(search)
    search.set_defaults(run=_search)

    evaluate = commands.add_parser("eval", help="measure retrieval on SQuAD-format questions", description="Index each paragraph of a SQuAD-format file as an article, ask every question, print R@1, R@5, R@10, MRR@10 and latency.")
    evaluate.add_argument("data", help="SQuAD v1.1 JSON file")
    evaluate.add_argument("--mode", action="append", choices=MODES, help="retrieval mode; repeat for several (default: all)")
    evaluate.add_argument("--distractors", help="JSON Lines news file whose articles are indexed too, as distractors")
    evaluate.add_argument("--limit", type=int, default=5000, help="distractor articles to use (default: %(default)s)")
    evaluate.add_argument("--model", default=os.environ.get("QA_MODEL", Settings.model), help="model (default: %(default)s)")
    evaluate.add_argument("--chunk-tokens", type=int, default=Settings.chunk_tokens)
    evaluate.add_argument("--precision", choices=PRECISIONS, default=Settings.precision)
    evaluate.add_argument("--json", action="store_true", help="one JSON object per mode, one per line")
    evaluate.add_argument("--keep", metavar="DIR", help="build the evaluation index in DIR and keep it; a rerun reuses its embeddings")
    evaluate.add_argument("--answers", action="store_true", help="grade composed answers instead of retrieval (mode default: %s): answer-hit, hit of [1], words, abstention, exact spans, and the short answers of factoid questions (shown, exact match, token F1); on all questions and each half" % Settings.mode)
    evaluate.add_argument("--answerer", choices=ANSWERERS, default=None, help="with --answers, what composes the answers (default: %s, or llm with --llm)" % Settings.answerer)
    evaluate.add_argument("--questions", type=int, help="with --answers, grade only this many questions, spread evenly over the file (an LLM answers a few per minute on 2 cores)")
    _add_llm_options(evaluate)
    _add_store_options(evaluate)
    evaluate.set_defaults(run=_eval)

    ask = commands.add_parser("ask", help="answer a question with cited sentences from the articles", description="Answer a question with sentences from the articles, each ending with its [n] citation, then list the numbered sources.")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=Settings.top_k, help="passages to read (default: %(default)s)")
    ask.add_argument("--index", default=index_default, help="index folder (default: %(default)s, or $QA_INDEX)")
    ask.add_argument("--json", action="store_true", help="the answer as one JSON object")
    ask.add_argument("--answerer", choices=ANSWERERS, default=None, help="what composes the answer (default: %s, or llm with --llm)" % Settings.answerer)
    ask.add_argument("--now", metavar="YYYY-MM-DD", help="the day the question is asked from, which its time words count from (\"yesterday\", \"last week\"; default: the newest article's day)")
    ask.add_argument("--timeline", action=argparse.BooleanOptionalAction, default=None, help="list the story's dated events, oldest first (default: when the question asks how a story went)")
    _add_llm_options(ask)
    _add_search_options(ask)
    _add_store_options(ask)
    ask.set_defaults(run=_ask)
    return parser


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    from qa.fetch import FetchLimits
    from qa.sources import FORMATS
    from qa.text.tabular import FIELDS

    parser.add_argument("--format", choices=FORMATS, default="auto", help="what the feed, page and table sources are (default: %(default)s: by Content-Type, content and suffix)")
    parser.add_argument("--columns", metavar="FIELD=COLUMN,...", help=f"for CSV/TSV/Parquet, the column of each field, e.g. title=headline,text=body (fields: {','.join(FIELDS)}; each defaults to its own name)")
    parser.add_argument("--spool", metavar="DIR", help="where articles read from URLs, pages, feeds and tables are kept (default: the index folder's name + .sources, beside it)")
    parser.add_argument("--timeout", type=float, default=FetchLimits.timeout_s, help="seconds one HTTP request may take (default: %(default)s)")
    parser.add_argument("--max-bytes", type=int, default=FetchLimits.max_bytes, help="largest page or feed fetched, in bytes (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=FetchLimits.budget_s, help="seconds all the requests of one build or round may take (default: %(default)s)")


def _collector(args: argparse.Namespace) -> Any:
    from qa.sources import Collector, Spool
    from qa.watch import default_spool

    return Collector(Spool(args.spool or default_spool(args.out)), fmt=args.format, columns=args.columns)


def _limits(args: argparse.Namespace) -> Any:
    from qa.fetch import FetchLimits

    return FetchLimits(timeout_s=args.timeout, max_bytes=args.max_bytes, budget_s=args.budget)


def _print_source(report: Any, args: argparse.Namespace, round_number: int | None = None) -> None:
    if args.json:
        print(json.dumps({"round": round_number, "source": report.source, "new": report.new, "unchanged": report.unchanged,
                          "duplicates": report.duplicates, "not_modified": report.not_modified, "error": report.error,
                          "failed": [str(f) for f in report.failed]}, ensure_ascii=False), flush=True)
        return
    prefix = "qa watch: " + (f"round {round_number}: " if round_number is not None else "")
    print(prefix + str(report), file=sys.stdout if round_number is not None else sys.stderr, flush=True)


def _read_sources(args: argparse.Namespace, sources: list[str]) -> list[str]:
    """The paths `build_index` reads: the native sources as given, the others read into the spool first."""
    from qa.fetch import Fetcher
    from qa.sources import is_native

    if all(is_native(s) for s in sources) and args.format == "auto" and not args.columns:
        from qa.sources import folder_files

        if not any(any(folder_files(Path(s))) for s in sources):
            return sources
    collector = _collector(args)
    with Fetcher(_limits(args)) as fetcher:
        prepared = collector.prepare(sources, fetcher)
    for report in prepared.reports:
        if report.error or report.failed:
            print(f"qa build: {report}", file=sys.stderr)
    return list(prepared.paths)


def _watch(args: argparse.Namespace) -> int:
    from qa.watch import Watcher, parse_duration

    try:
        every = parse_duration(args.every)
        settings = Settings(model=args.model, precision=args.precision)
        limits = _limits(args)
    except ValueError as exc:
        print(f"qa watch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.rounds < 0:
        print(f"qa watch: error: --rounds must be 0 or more, got {args.rounds}", file=sys.stderr)
        return EXIT_USAGE
    watcher = Watcher(args.sources, args.out, spool=args.spool, fmt=args.format, columns=args.columns, limits=limits,
                      settings=settings, store_options=_store_options(args))

    def on_round(result: Any) -> None:
        if result.build_error:
            print(f"qa watch: round {result.number}: build failed, the index keeps serving the last one ({result.build_error})", file=sys.stderr, flush=True)
        elif result.build is not None:
            b = result.build
            line = (f"up to date: {b.articles} articles" if b.unchanged else
                    f"indexed {b.articles} articles, {b.passages} passages ({b.embedded} embedded) in {b.seconds:.1f} s -> {b.path}")
            if args.json:
                print(json.dumps({"round": result.number, "build": line, "articles": b.articles, "embedded": b.embedded}, ensure_ascii=False), flush=True)
            else:
                print(f"qa watch: round {result.number}: {line}", flush=True)

    watcher.run(every, rounds=args.rounds or None, on_source=lambda r: _print_source(r, args, watcher.rounds), on_round=on_round)
    return EXIT_OK


def _add_search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=MODES, default=Settings.mode, help="retrieval mode (default: %(default)s)")
    parser.add_argument("--source", action="append", default=[], help="keep only this site (repeat for several)")
    parser.add_argument("--category", action="append", default=[], help="keep only this category (repeat for several)")
    parser.add_argument("--since", help="keep articles published on or after this date (YYYY-MM-DD)")
    parser.add_argument("--until", help="keep articles published on or before this date (YYYY-MM-DD)")
    parser.add_argument("--drop-undated", action="store_true", help="with --since/--until, drop articles that have no date")


def _add_llm_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm", metavar="URL", default=os.environ.get("QA_LLM_URL"), help="an OpenAI-compatible chat server (Ollama, vLLM, llama.cpp, ...), e.g. http://127.0.0.1:11434/v1; answers are generated there and verified (or $QA_LLM_URL; the API key comes from $QA_LLM_API_KEY)")
    parser.add_argument("--llm-model", metavar="NAME", default=os.environ.get("QA_LLM_MODEL", "default"), help="the model name the server knows (default: %(default)s, or $QA_LLM_MODEL)")


def _answerer(args: argparse.Namespace) -> Any:
    """The answerer the flags ask for: a name, or the LLM answerer's factory when a server is given."""
    from qa.errors import SettingsError

    choice = args.answerer or ("llm" if args.llm else Settings.answerer)
    if choice != "llm":
        return choice
    if not args.llm:
        raise SettingsError("the llm answerer needs a server: give --llm URL or set QA_LLM_URL")
    from qa.llm import LLMConfig, llm_answerer

    return llm_answerer(LLMConfig(args.llm, model=args.llm_model, api_key=os.environ.get("QA_LLM_API_KEY") or None))


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", choices=STORES, default=os.environ.get("QA_STORE", Settings.store), help="where the index lives: the embedded folder (faiss) or a Milvus server/file (milvus) (default: %(default)s, or $QA_STORE)")
    parser.add_argument("--uri", default=os.environ.get("QA_MILVUS_URI"), help="with --store milvus: a Milvus Lite file (./news.db) or a server (http://host:19530) (or $QA_MILVUS_URI)")
    parser.add_argument("--token", default=os.environ.get("QA_MILVUS_TOKEN"), help="with --store milvus: the server's token, user:password (or $QA_MILVUS_TOKEN)")
    parser.add_argument("--collection", default=os.environ.get("QA_MILVUS_COLLECTION"), help="with --store milvus: the alias the index is published under (default: qa_news, or $QA_MILVUS_COLLECTION)")


def _store_options(args: argparse.Namespace) -> dict[str, str | None]:
    """The store flags as build_index / Retriever.load take them (nothing for the embedded store)."""
    if args.store == Settings.store:
        return {}
    return {"store": args.store, "uri": args.uri, "token": args.token, "collection": args.collection}


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(
        sources=tuple(args.source), categories=tuple(args.category), since=args.since, until=args.until,
        keep_undated=not args.drop_undated,
    )


def _build(args: argparse.Namespace) -> int:
    try:
        settings = Settings(
            model=args.model, chunk_tokens=args.chunk_tokens, overlap_sentences=args.overlap,
            batch_size=args.batch_size, precision=args.precision, index_type=args.index_type,
        )
    except ValueError as exc:
        print(f"qa build: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sources = args.sources or [s for s in DEFAULT_SOURCES if Path(s).exists()]
    if not sources:
        print(f"qa build: error: no sources given and no {'/'.join(DEFAULT_SOURCES)} folder here", file=sys.stderr)
        return EXIT_USAGE
    try:
        _limits(args)
        sources = _read_sources(args, [str(s) for s in sources])
    except ValueError as exc:
        print(f"qa build: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bar = None if args.quiet or args.json else _ProgressBar()
    try:
        report = qa.build_index(
            sources, args.out, settings=settings, strict=args.strict, force=args.force, progress=bar,
            **_store_options(args),
        )
    finally:
        if bar is not None:
            bar.close()
    summary = {
        "index": str(report.path), "articles": report.articles, "passages": report.passages,
        "embedded": report.embedded, "reused": report.reused, "resumed": report.resumed,
        "kept_articles": report.kept_articles, "changed_articles": report.changed_articles,
        "removed_articles": report.removed_articles, "unchanged": report.unchanged, "tokens": report.tokens,
        "seconds": round(report.seconds, 2), "index_type": report.manifest.index.type,
        "recall": report.manifest.index.recall.to_json() if report.manifest.index.recall else None,
        "skipped": [str(s) for s in report.skipped],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return EXIT_OK
    for skipped in report.skipped:
        print(f"skipped {skipped}", file=sys.stderr)
    if report.unchanged:
        print(
            f"up to date: {report.articles} articles, {report.passages} passages, sources unchanged "
            f"({report.seconds:.1f} s) -> {report.path}"
        )
        return EXIT_OK
    recall = report.manifest.index.recall
    print(
        f"indexed {report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded, {report.reused} reused"
        + (f", {report.resumed} from an interrupted build" if report.resumed else "")
        + f"; {report.kept_articles} articles unchanged, {report.changed_articles} changed, "
        f"{report.removed_articles} removed) in {report.seconds:.1f} s -> {report.path}"
        + (f"; HNSW recall@10 {recall.recall:.3f} against exact search" if recall else "")
        + (f"; skipped {len(report.skipped)} input(s), listed above" if report.skipped else "")
    )
    return EXIT_OK


def _search(args: argparse.Namespace) -> int:
    with qa.Retriever.load(args.index, **_store_options(args)) as retriever:
        hits = retriever.search(args.question, k=args.k, mode=args.mode, filters=_filters(args))
    language = detect_language(args.question)
    for rank, hit in enumerate(hits, start=1):
        if args.json:
            print(json.dumps({"rank": rank, **asdict(hit)}, ensure_ascii=False))
            continue
        meta = " · ".join(x for x in (hit.site, hit.agency, format_published(hit.published, language)) if x)
        print(f"[{rank}] {hit.similarity:.3f}  {hit.title}" + (f"  ({meta})" if meta else ""))
        for carrier in hit.carriers[1:] if len(hit.carriers) > 1 else ():
            print(f"    also: {carrier.title} ({' · '.join(x for x in (carrier.site, format_published(carrier.published, language)) if x)})")
        print(f"    {hit.text}\n")
    if not hits and not args.json:
        print("no passages found")
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from qa.evaluate import run_eval

    try:
        settings = Settings(model=args.model, chunk_tokens=args.chunk_tokens, precision=args.precision)
    except ValueError as exc:
        print(f"qa eval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.answers:
        return _eval_answers(args, settings)
    bar = None if args.json else _ProgressBar()
    try:
        results = run_eval(args.data, modes=args.mode or MODES, distractors=args.distractors, limit=args.limit, settings=settings, workdir=args.keep, keep=args.keep is not None, progress=bar,
                           store_options=_store_options(args))
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        for result in results:
            print(json.dumps(asdict(result)))
        return EXIT_OK
    print(f"{'mode':<8} {'questions':>9} {'passages':>8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for r in results:
        print(
            f"{r.mode:<8} {r.questions:>9} {r.passages:>8} {r.recall_at_1:>6.3f} {r.recall_at_5:>6.3f} "
            f"{r.recall_at_10:>6.3f} {r.mrr_at_10:>7.3f} {r.latency_p50_ms:>7.1f} {r.latency_p95_ms:>7.1f}"
        )
    for r in results:
        if r.found_as_copy:
            print(
                f"{r.mode}: {r.found_as_copy} question(s) found their paragraph as a copy: the file holds that text "
                "in another article too, search grouped the copies into one hit, and it counts as found"
            )
    return EXIT_OK


def _eval_answers(args: argparse.Namespace, settings: Settings) -> int:
    from qa.evaluate import run_answer_eval

    bar = None if args.json else _ProgressBar()
    try:
        # A generating answerer is measured beside the extractive one, on the same questions and index.
        chosen = _answerer(args)
        answerers = [Settings.answerer, chosen] if chosen != Settings.answerer else [chosen]
        results = run_answer_eval(args.data, modes=args.mode or (settings.mode,), distractors=args.distractors, limit=args.limit, settings=settings, workdir=args.keep, keep=args.keep is not None, progress=bar,
                                  answerers=answerers, questions_limit=args.questions)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        for result in results:
            print(json.dumps(asdict(result)))
        return EXIT_OK
    print(
        f"{'mode':<8} {'split':<11} {'questions':>9} {'passages':>8} {'hit':>6} {'hit[1]':>6} {'words':>5} {'p90':>4} "
        f"{'abstain':>7} {'spans':>6} {'p50 ms':>7} {'p95 ms':>7}" + (f" {'answerer':<10} {'verified':>8} {'fallback':>8}" if len(answerers) > 1 else "")
    )
    for r in results:
        print(
            f"{r.mode:<8} {r.split:<11} {r.questions:>9} {r.passages:>8} {r.answer_hit:>6.3f} {r.first_sentence_hit:>6.3f} "
            f"{r.words_median:>5.0f} {r.words_p90:>4.0f} {r.abstention_rate:>7.3f} {r.spans_exact:>6.3f} "
            f"{r.latency_p50_ms:>7.1f} {r.latency_p95_ms:>7.1f}"
            + (f" {r.answerer:<10} {'-' if r.verified_share is None else f'{r.verified_share:.3f}':>8} {r.fallback_rate:>8.3f}" if len(answerers) > 1 else "")
        )
    if any(r.factoid_questions for r in results):
        _print_short_answers(results, several=len(answerers) > 1)
    return EXIT_OK


def _print_short_answers(results: Sequence[Any], *, several: bool) -> None:
    """The short answers of factoid questions: how often one is shown, and how often a shown one is right."""

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    print("\nshort answers of factoid questions (shown: share given one; EM, F1 and right (F1 >= 0.5) over those shown; "
          "EM/F1 all: over every factoid question, none shown scoring 0; other: share of the other questions given one)")
    print(f"{'mode':<8} {'split':<11} {'factoid':>7} {'shown':>6} {'EM':>6} {'F1':>6} {'right':>6} {'EM all':>6} {'F1 all':>6} {'other':>6}"
          + (f" {'answerer':<10}" if several else ""))
    for r in results:
        print(
            f"{r.mode:<8} {r.split:<11} {r.factoid_questions:>7} {r.short_shown:>6.3f} {share(r.short_exact):>6} "
            f"{share(r.short_f1):>6} {share(r.short_right):>6} {r.short_exact_all:>6.3f} {r.short_f1_all:>6.3f} "
            f"{r.short_shown_other:>6.3f}" + (f" {r.answerer:<10}" if several else "")
        )


def _ask(args: argparse.Namespace) -> int:
    from qa.answer import ask

    answerer = _answerer(args)
    with qa.Retriever.load(args.index, **_store_options(args)) as retriever:
        answer = ask(args.question, retriever, k=args.k, answerer=answerer, now=args.now, timeline=args.timeline,
                     mode=args.mode, filters=_filters(args))
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False))
        return EXIT_OK
    print(answer.text)
    if answer.note:
        print(f"qa: note: {answer.note}", file=sys.stderr)
    for removed in answer.removed:
        print(f"qa: removed: {removed.sentence} ({removed.reason})", file=sys.stderr)
    if answer.abstained:
        for hit in answer.hits:
            print(f"\n- {hit.title}{_meta(hit.site, format_published(hit.published, answer.language))}\n    {_clip(hit.text)}")
        return EXIT_OK
    if answer.timeline:
        print("\nTimeline:")
        for entry in answer.timeline:
            print(f"- {entry.date_text}{_meta(', '.join(entry.sites))}: {entry.sentence} [{entry.citation}]")
    print("\nSources:")
    shown: set[int] = set()
    for citation in answer.citations:
        if citation.number not in shown:
            shown.add(citation.number)
            print(f"[{citation.number}] {citation.title}{_meta(citation.site, format_published(citation.published, answer.language))}")
            for sentence in (c.sentence for c in answer.citations if c.number == citation.number):
                print(f"    {sentence}")
    return EXIT_OK


def _meta(*parts: str | None) -> str:
    shown = " · ".join(part for part in parts if part)
    return f" ({shown})" if shown else ""


def _clip(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def _columns(stream: Any) -> int:
    """The width of the terminal `stream` writes to (the bar's, not stdout's); 0 when unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # no file descriptor, or not a terminal
        return 0


class _ProgressBar:
    """Renders build progress on stderr: a tqdm bar per phase on a terminal, a log line every
    `interval` seconds otherwise (logs, pipes, cron), each with counts, rate and time left."""

    _UNITS = {"articles": " articles", "vectors": " vectors", "lexical": " passages", "index": " vectors",
              "recall": " queries", "checksums": ""}

    def __init__(self, interval: float = 60.0, stream: Any = None) -> None:
        self._bar: Any = None
        self._phase = ""
        self._stream = stream or sys.stderr
        self._terminal = self._stream.isatty()
        self._interval = interval
        self._logged = 0.0
        self._last: tuple[int, bool] = (-1, False)

    def __call__(self, progress: qa.build.BuildProgress) -> None:  # type: ignore[name-defined]
        if not self._terminal:
            self._log(progress)
            return
        from tqdm import tqdm

        if progress.phase != self._phase:
            self.close()
            self._phase = progress.phase
            # A pseudo-terminal of zero columns (script, some container ttys) would render an empty bar.
            width = _columns(self._stream)
            self._bar = tqdm(desc=progress.phase, total=progress.total, unit=self._UNITS.get(progress.phase, ""),
                             file=self._stream, dynamic_ncols=width > 0, ncols=None if width > 0 else 100,
                             # The mean rate since the phase began: articles vary in length (and an archive
                             # is often ordered by outlet), so a recent-rate ETA swung between 44 min and
                             # 1 h 41 min within one build of the ANT corpus.
                             smoothing=0)
        self._bar.update(progress.done - self._bar.n)
        if progress.phase == "articles":
            rate = progress.embedded / progress.seconds if progress.seconds else 0.0
            self._bar.set_postfix_str(
                f"{progress.passages} passages, {progress.embedded} embedded ({rate:.0f}/s), {progress.reused} reused"
                + (f", {progress.skipped} skipped" if progress.skipped else ""),
                refresh=False,
            )

    def _log(self, progress: qa.build.BuildProgress) -> None:  # type: ignore[name-defined]
        """One plain line when a phase starts, every `interval` seconds and when it ends; time left is the remaining count at the phase's mean rate so far."""
        now = time.monotonic()
        finished = progress.total is not None and progress.done >= progress.total
        if progress.phase == self._phase:
            repeated = (progress.done, finished) == self._last
            too_soon = not finished and now - self._logged < self._interval
            if repeated or too_soon:
                return
        self._phase, self._logged, self._last = progress.phase, now, (progress.done, finished)
        line = f"qa: {progress.phase} {progress.done:,}" + (f"/{progress.total:,}" if progress.total else "")
        if progress.phase == "articles" and progress.seconds > 0:
            rate = progress.done / progress.seconds
            line += (f" in {_duration(progress.seconds)}, {rate:.2f} articles/s, {progress.passages:,} passages"
                     f" ({progress.embedded / progress.seconds:.1f} embedded/s), {progress.reused:,} reused")
            if progress.total and rate > 0 and progress.done < progress.total:
                line += f", about {_duration((progress.total - progress.done) / rate)} left"
        print(line, file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


if __name__ == "__main__":
    sys.exit(main())
