"""Keeping an index up to date: an unchanged rebuild, adding 100 articles and removing 100, wall time and peak memory.

Usage: PYTHONPATH=. python benchmarks/bench_update.py --index DIR --base A.jsonl[.gz] [--count 100] [--repeat 3]

DIR must hold the index of A (built once: `qa build A.jsonl.gz --out DIR`). The new
articles are XQuAD-ar paragraphs (real Arabic text the index does not hold yet),
given as a second source beside A; the removal drops A's last `--count` articles
(A is copied without them). Each run is `qa build` in a child process, timed from
start to exit (imports and model load included). Adding and removing run on a
fresh copy of DIR each time (the copy is not timed), so every repeat does the same work.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from _run import Run, run_qa

XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad-ar" / "xquad.ar.json"


def write_new_articles(target: Path, count: int) -> Path:
    """`count` XQuAD-ar paragraphs as news articles of their own, in JSON Lines."""
    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    paragraphs = [(article["title"], p["context"]) for article in data["data"] for p in article["paragraphs"]]
    with target.open("w", encoding="utf-8") as out:
        for i, (title, text) in enumerate(paragraphs[:count]):
            record = {"id": f"update-bench-{i}", "title": f"{title} ({i})", "text": text, "source": "xquad"}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def write_without_last(base: Path, target: Path, count: int) -> int:
    """A copy of the JSON Lines file `base` without its last `count` records; returns how many it keeps."""
    opener = gzip.open if base.suffix == ".gz" else open
    with opener(base, "rt", encoding="utf-8") as stream:
        lines = [line for line in stream if line.strip()]
    kept = lines[: len(lines) - count]
    target.write_text("".join(kept), encoding="utf-8")
    return len(kept)


def on_copies(index: Path, work: Path, repeat: int, *sources: Path) -> list[Run]:
    runs = []
    for i in range(repeat):
        copy = work / f"copy{i}"
        shutil.copytree(index, copy)
        runs.append(run_qa("build", *map(str, sources), "--out", str(copy), "--quiet"))
        shutil.rmtree(copy)
    return runs


def line(label: str, runs: list[Run]) -> str:
    seconds = [r.seconds for r in runs]
    return (f"{label}: median {statistics.median(seconds):.1f} s ({', '.join(f'{s:.1f}' for s in seconds)}), "
            f"peak memory {max(r.peak_mib for r in runs):,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--count", type=int, default=100, help="articles added, then removed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    first = run_qa("build", str(args.base), "--out", str(args.index), "--quiet")
    print(f"index of {first.summary['articles']:,} articles, {first.summary['passages']:,} passages "
          f"({'already up to date' if first.summary['unchanged'] else 'brought up to date'})")
    unchanged = [run_qa("build", str(args.base), "--out", str(args.index), "--quiet") for _ in range(args.repeat)]
    assert all(r.summary["unchanged"] for r in unchanged)
    print(line("unchanged rebuild", unchanged))

    with tempfile.TemporaryDirectory(dir=args.index.parent) as tmp:
        work = Path(tmp)
        new = write_new_articles(work / "new.jsonl", args.count)
        added = on_copies(args.index, work, args.repeat, args.base, new)
        s = added[0].summary
        print(line(f"adding {s['articles'] - first.summary['articles']} articles ({s['embedded']} passages embedded, "
                   f"{s['kept_articles']:,} articles kept)", added))
        kept = write_without_last(args.base, work / "without.jsonl", args.count)
        removed = on_copies(args.index, work, args.repeat, work / "without.jsonl")
        s = removed[0].summary
        print(line(f"removing {s['removed_articles']} articles ({kept:,} kept, {s['embedded']} passages embedded)",
                   removed))


if __name__ == "__main__":
    main()
