"""Start-up of the web app: when the seed index is stale, and the build's progress as plain lines."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

from qa.build import BuildProgress
from qa.manifest import Chunking, Counts, IndexInfo, Manifest, ModelInfo
from qa.web.startup import ProgressPrinter, stale_reason

OLD = "2000-01-01T00:00:00+00:00"


def _manifest(sources: tuple[str, ...], created: str | None) -> Manifest:
    return Manifest(format=2, model=ModelInfo("m", "f", "float32"), chunking=Chunking(200), counts=Counts(1, 1),
                    index=IndexInfo(size=1), created=created, sources=sources)


def test_stale_reason(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("x", encoding="utf-8")
    manifest = _manifest((str(seeds),), OLD)
    assert "changed" in stale_reason(manifest, seeds)
    assert stale_reason(replace(manifest, created="2999-01-01T00:00:00+00:00"), seeds) is None
    assert stale_reason(replace(manifest, sources=("other.jsonl",)), seeds) is None  # never overwrite another corpus
    assert stale_reason(replace(manifest, created=None), seeds) == "its manifest has no build time"


def test_only_what_a_build_reads_makes_the_index_stale(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    (seeds / "sub").mkdir(parents=True)
    (seeds / "sub" / "a.txt").write_text("x", encoding="utf-8")
    (seeds / ".DS_Store").write_text("x", encoding="utf-8")
    built = 1_600_000_000
    for path in (seeds / "sub" / "a.txt", seeds / "sub", seeds):
        os.utime(path, (built - 10, built - 10))
    manifest = _manifest((str(seeds),), "2020-09-13T12:26:40+00:00")  # `built`
    assert stale_reason(manifest, seeds) is None  # a hidden file, newer, is not an article
    (seeds / "sub" / "a.txt").unlink()
    (seeds / "sub" / "b.md").write_text("x", encoding="utf-8")
    assert "changed" in stale_reason(manifest, seeds)


def test_progress_prints_each_step_once() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out)
    stats = BuildProgress()
    for articles in (1, 2):
        stats.articles, stats.passages, stats.embedded, stats.seconds = articles, 5 * articles, 5 * articles, 1.0 * articles
        printer(stats)
    for phase, times in (("vectors", 3), ("lexical", 1), ("index", 1), ("checksums", 2)):
        stats.phase = phase
        for _ in range(times):
            stats.seconds += 0.1
            printer(stats)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["qa:   1 articles, 5 passages, 5 embedded, 0 reused (1.0 s)",
                         "qa:   2 articles, 10 passages, 10 embedded, 0 reused (2.0 s)"]
    assert [line.rsplit(" (", 1)[0] for line in lines[2:]] == [
        "qa:   writing the passage vectors", "qa:   building the lexical (BM25) index",
        "qa:   building the vector index", "qa:   writing checksums and the manifest",
    ]
