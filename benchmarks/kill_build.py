"""Kill `qa build` with SIGKILL at random moments; after every kill the index must still load, answer, and rebuild consistently.

    python benchmarks/kill_build.py                                   # 300 ANT articles, 20 kills, seed 0
    python benchmarks/kill_build.py --kills 3 --articles 20 --step 20 --max-chars 300 --rebuild-in-process
    python benchmarks/kill_build.py --json                            # one JSON object at the end

It builds an index of the first articles of the ANT corpus with the CLI, then, round after
round: writes a changed source (the window of articles moves on by --step, --edits of them
get a new last line), starts `qa build SOURCE --out DIR --quiet`, kills it with SIGKILL
after a seeded random share of the expected build time, checks that the index at DIR loads
(qa.Retriever.load) and finds a pinned article by its title, then runs the build again to
completion and checks that it is consistent: passages in the manifest == rows in the store
== vectors in the index, articles in the manifest == rows in the store == articles read,
every file's checksum verifies (open_generation) and the index loads and answers.

The expected time starts as the initial build's, then is the median time of the rebuilds
run to completion so far (with --rebuild-in-process, of those run by the CLI), so kill
moments spread over a whole rebuild. A build that finishes before its kill moment is not
counted as a kill; its time is noted and another moment is drawn. Only CURRENT,
manifest.json and open_generation are read, never the layout of a build in progress.
Exit status 0 when every kill was survived.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import qa
from qa.embed import Embedder
from qa.stores.generations import CURRENT, STORE, PassageStore, open_generation

ROOT = Path(__file__).resolve().parent.parent

ANT = ROOT.parent / "shared" / "data" / "news" / "ant-multisource.jsonl.gz"


@dataclass
class Check:
    """What one consistency check found."""

    articles: int
    passages: int
    vectors: int
    files: int
    seconds: float


@dataclass
class Round:
    """One killed build, the checks after it and the build that completes it."""

    number: int
    kill_at_s: float
    kill_share: float
    landed: bool
    ran_s: float = 0.0
    after_publish: bool = False
    after_kill: Check | None = None
    rebuild_s: float = 0.0
    rebuild: dict[str, Any] = field(default_factory=dict)
    after_rebuild: Check | None = None
    failure: str | None = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ANT, help="JSON Lines news file (default: the shared ANT corpus)")
    parser.add_argument("--articles", type=int, default=300, help="articles in each source (default: %(default)s)")
    parser.add_argument("--kills", type=int, default=20, help="kills to land (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments and the edits (default: %(default)s)")
    parser.add_argument("--step", type=int, help="articles the window moves on each round (default: a tenth of --articles)")
    parser.add_argument("--edits", type=int, help="articles edited each round (default: a twentieth of --articles)")
    parser.add_argument("--max-chars", type=int, help="cut each article's text to this many characters (quicker runs)")
    parser.add_argument("--rebuild-in-process", action="store_true",
                        help="run each completing build through qa.build_index in this process, sharing the loaded model (quicker)")
    parser.add_argument("--workdir", type=Path, help="keep sources and index here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with every figure at the end")
    args = parser.parse_args(argv)
    if args.articles < 2 or args.kills < 1:
        parser.error("--articles must be at least 2 and --kills at least 1")
    # A SIGTERM unwinds like Ctrl-C: running builds are killed and the temporary folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    step = args.step if args.step is not None else max(1, args.articles // 10)
    edits = args.edits if args.edits is not None else max(1, args.articles // 20)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(args, step, edits, args.workdir)
    with tempfile.TemporaryDirectory(prefix="kill-build-") as workdir:
        return run(args, step, edits, Path(workdir))


def run(args: argparse.Namespace, step: int, edits: int, workdir: Path) -> int:
    rng = random.Random(args.seed)
    attempts = 2 * args.kills
    pool = read_pool(args.corpus, 1 + args.articles + step * (attempts + 1), args.max_chars)
    if len(pool) < args.articles + step:
        raise SystemExit(f"{args.corpus} holds only {len(pool)} usable articles; use fewer --articles")
    out = workdir / "vectors"
    say = (lambda *_: None) if args.json else print
    say(f"kill_build: {args.articles} articles, {args.kills} kills, seed {args.seed} ({step} new and {edits} edited a round)")
    started = time.perf_counter()

    initial_s, summary = build(source(workdir, pool, 0, args.articles, step, 0, rng), out)
    checker = Checker(out, pool[0])
    first = checker.check(expected_articles=summary["articles"])
    say(f"initial build: {first.articles} articles, {first.passages} passages in {initial_s:.1f} s")
    durations: list[float] = []

    rounds: list[Round] = []
    number = 0
    while sum(r.landed for r in rounds) < args.kills and len(rounds) < attempts:
        number += 1
        path = source(workdir, pool, number, args.articles, step, edits, rng)
        share = rng.random()
        estimate = statistics.median(durations) if durations else initial_s
        round_ = kill_build(path, out, share * estimate, share)
        round_.number = number
        rounds.append(round_)
        try:
            round_.after_kill = checker.check()
            if round_.landed:
                round_.rebuild_s, round_.rebuild = (
                    build_in_process(path, out, checker.embedder) if args.rebuild_in_process else build(path, out)
                )
                round_.after_rebuild = checker.check(expected_articles=round_.rebuild["articles"])
        except Exception as exc:  # noqa: BLE001 - every failure is reported, the run goes on
            round_.failure = round_.failure or f"{type(exc).__name__}: {exc}"
        if not round_.landed:
            durations.append(round_.ran_s)
        elif round_.rebuild_s and not args.rebuild_in_process:
            durations.append(round_.rebuild_s)
        say(describe(round_, sum(r.landed for r in rounds), args.kills))

    landed = [r for r in rounds if r.landed]
    survived = [r for r in landed if r.failure is None]
    failed_other = [r for r in rounds if not r.landed and r.failure is not None]
    figures = {
        "articles": args.articles, "seed": args.seed, "kills": len(landed), "survived": len(survived),
        "killed_after_publish": sum(r.after_publish for r in landed), "finished_before_kill": len(rounds) - len(landed),
        "initial_build_s": round(initial_s, 1),
        "kill_at_s": spread([r.kill_at_s for r in landed]),
        "load_after_kill_s": spread([r.after_kill.seconds for r in landed if r.after_kill]),
        "rebuild_after_kill_s": spread([r.rebuild_s for r in landed if r.rebuild_s]),
        "resumed_passages": spread([float(r.rebuild.get("resumed") or 0) for r in landed if r.rebuild]),
        "total_s": round(time.perf_counter() - started, 1),
        "rounds": [asdict(r) for r in rounds],
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        print(
            f"survived {len(survived)}/{len(landed)} kills ({figures['killed_after_publish']} after the new index was "
            f"published, {figures['finished_before_kill']} builds finished before their kill moment)"
        )
        for name in ("kill_at_s", "load_after_kill_s", "rebuild_after_kill_s", "resumed_passages"):
            print(f"  {name}: {format_spread(figures[name])}")
        print(f"  total: {figures['total_s'] / 60:.1f} min")
    ok = len(landed) == args.kills and len(survived) == len(landed) and not failed_other
    return 0 if ok else 1


def read_pool(corpus: Path, count: int, max_chars: int | None) -> list[dict[str, Any]]:
    """The first `count` articles of the corpus with an id, a title and a text, ids unique."""
    pool: list[dict[str, Any]] = []
    seen: set[str] = set()
    with gzip.open(corpus, "rt", encoding="utf-8") if corpus.suffix == ".gz" else open(corpus, encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            if not (record.get("id") and record.get("title") and str(record.get("text", "")).strip()) or record["id"] in seen:
                continue
            if max_chars is not None and len(record["text"]) > max_chars:
                record["text"] = record["text"][:max_chars].rsplit(" ", 1)[0]
            seen.add(record["id"])
            pool.append(record)
            if len(pool) == count:
                break
    return pool


def source(workdir: Path, pool: list[dict[str, Any]], number: int, articles: int, step: int, edits: int, rng: random.Random) -> Path:
    """Round `number`'s source: the pinned first article, then a window that moves on by `step`, some of it edited."""
    start = 1 + (number * step) % (len(pool) - articles)
    window = [dict(record) for record in pool[start:start + articles - 1]]
    for record in rng.sample(window, min(edits, len(window))):
        record["text"] += f"\nتحديث رقم {number}: تابعت الصحيفة تطورات الخبر."
    path = workdir / "source.jsonl"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [pool[0], *window]), encoding="utf-8")
    os.replace(tmp, path)
    return path


def qa_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("qa")), *args]


def build(path: Path, out: Path) -> tuple[float, dict[str, Any]]:
    """Run `qa build` to completion; its wall time and its JSON summary."""
    began = time.perf_counter()
    result = subprocess.run(
        qa_command("build", str(path), "--out", str(out), "--quiet", "--json"),
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"qa build exited with {result.returncode}: {result.stderr.strip()[-500:]}")
    return seconds, json.loads(result.stdout.strip().splitlines()[-1])


def build_in_process(path: Path, out: Path, embedder: Embedder | None) -> tuple[float, dict[str, Any]]:
    began = time.perf_counter()
    report = qa.build_index([path], out, embedder=embedder)
    summary = {"articles": report.articles, "embedded": report.embedded, "reused": report.reused,
               "resumed": getattr(report, "resumed", 0)}
    return time.perf_counter() - began, summary


def kill_build(path: Path, out: Path, at: float, share: float) -> Round:
    """Start `qa build` and SIGKILL it (its whole process group) `at` seconds later, unless it finished first."""
    before = pointer(out)
    began = time.perf_counter()
    process = subprocess.Popen(
        qa_command("build", str(path), "--out", str(out), "--quiet"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    landed = False
    try:
        process.wait(timeout=at)
    except subprocess.TimeoutExpired:
        landed = True
    finally:
        if process.returncode is None:  # also on Ctrl-C or SIGTERM: no build outlives the benchmark
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    ran = time.perf_counter() - began
    if landed:
        return Round(number=0, kill_at_s=round(ran, 2), kill_share=round(share, 3), landed=True, ran_s=round(ran, 2),
                     after_publish=pointer(out) != before)
    round_ = Round(number=0, kill_at_s=round(at, 2), kill_share=round(share, 3), landed=False, ran_s=round(ran, 2))
    if process.returncode != 0:
        round_.failure = f"the build exited with {process.returncode} before its kill moment"
    return round_


def pointer(out: Path) -> str | None:
    try:
        return (out / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


class Checker:
    """Loads the index at `out` and checks it, sharing one embedding model between checks."""

    def __init__(self, out: Path, pinned: dict[str, Any]) -> None:
        self.out = out
        self.pinned = pinned
        self.embedder: Embedder | None = None

    def check(self, expected_articles: int | None = None) -> Check:
        began = time.perf_counter()
        folder, manifest = open_generation(self.out)  # every checksum
        store = PassageStore.open(folder / STORE)
        try:
            articles, rows = store.count()
        finally:
            store.close()
        if self.embedder is None:
            self.embedder = Embedder(manifest.model.name, precision=manifest.model.precision)
        retriever = qa.Retriever.load(self.out, embedder=self.embedder)
        counts = manifest.counts
        if not counts.passages == rows == retriever.size:
            raise AssertionError(f"passages: manifest {counts.passages}, store {rows}, index {retriever.size}")
        if counts.articles != articles or expected_articles not in (None, articles):
            raise AssertionError(f"articles: manifest {counts.articles}, store {articles}, read {expected_articles}")
        hits = retriever.search(self.pinned["title"], k=5)
        found = {h.article_id for h in hits} | {c.article_id for h in hits for c in h.carriers}
        if self.pinned["id"] not in found:
            raise AssertionError(f"searching the title of {self.pinned['id']} did not find it: {[h.article_id for h in hits]}")
        return Check(articles=articles, passages=rows, vectors=retriever.size, files=len(manifest.files),
                     seconds=round(time.perf_counter() - began, 2))


def describe(round_: Round, landed: int, kills: int) -> str:
    if not round_.landed:
        head = f"build finished in {round_.ran_s:.1f} s, before its kill moment ({round_.kill_at_s:.1f} s)"
        return f"{head}: FAILED {round_.failure}" if round_.failure else f"{head}; index consistent, drawing another moment"
    where = "after the new index was published" if round_.after_publish else "before publish"
    head = f"kill {landed:>2}/{kills} at {round_.kill_at_s:5.1f} s ({round_.kill_share:.0%}), {where}"
    if round_.failure:
        return f"{head}: FAILED {round_.failure}"
    after, rebuilt, summary = round_.after_kill, round_.after_rebuild, round_.rebuild
    return (
        f"{head}: index loads and answers ({after.seconds:.1f} s); next build {round_.rebuild_s:.1f} s "
        f"({summary.get('resumed', 0)} resumed, {summary.get('embedded')} embedded, {summary.get('reused')} reused): "
        f"consistent ({rebuilt.passages} passages = rows = vectors, {rebuilt.articles} articles, {rebuilt.files} files verified)"
    )


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def format_spread(values: dict[str, float]) -> str:
    return "n/a" if not values else f"median {values['median']}, min {values['min']}, max {values['max']}"


if __name__ == "__main__":
    sys.exit(main())
