"""Keeping an index up to date: an unchanged rebuild and adding 100 articles, wall time and peak memory.

Usage: PYTHONPATH=. python benchmarks/bench_update.py --index DIR --base A.jsonl --added B.jsonl [--repeat 3]

DIR must hold the index of A (built once, e.g. `qa build A.jsonl --out DIR`);
B is A plus 100 articles. Each run is `qa build` in a child process, timed from
start to exit (imports and model load included). "Adding" runs on a fresh copy
of DIR each time, so every repeat does the same work.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _run import run_qa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--added", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    first = run_qa("build", str(args.base), "--out", str(args.index), "--quiet")
    print(f"index of {first.summary['articles']:,} articles, {first.summary['passages']:,} passages "
          f"({'already up to date' if first.summary['unchanged'] else 'brought up to date'})")
    unchanged = [run_qa("build", str(args.base), "--out", str(args.index), "--quiet") for _ in range(args.repeat)]
    assert all(r.summary["unchanged"] for r in unchanged)
    print(f"unchanged rebuild: median {statistics.median(r.seconds for r in unchanged):.2f} s "
          f"({', '.join(f'{r.seconds:.2f}' for r in unchanged)}), peak memory {max(r.peak_mib for r in unchanged):,.0f} MiB")

    added = []
    with tempfile.TemporaryDirectory(dir=args.index.parent) as work:
        for i in range(args.repeat):
            copy = Path(work) / f"copy{i}"
            shutil.copytree(args.index, copy)
            added.append(run_qa("build", str(args.added), "--out", str(copy), "--quiet"))
            shutil.rmtree(copy)
    s = added[0].summary
    print(f"adding {s['articles'] - first.summary['articles']} articles ({s['embedded']} passages embedded, "
          f"{s['kept_articles']:,} articles kept): median {statistics.median(r.seconds for r in added):.1f} s "
          f"({', '.join(f'{r.seconds:.1f}' for r in added)}), peak memory {max(r.peak_mib for r in added):,.0f} MiB")


if __name__ == "__main__":
    main()
