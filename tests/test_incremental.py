"""Incremental sync, index-type choice, recall, and memory of a real build (issue: a real news archive)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.config import FLAT_MAX_PASSAGES, Settings
from qa.embed import Embedder
from qa.errors import SettingsError
from qa.index import VectorIndex, choose_type, exact_neighbours, measure_recall
from tests.conftest import ANT, require

QUESTIONS = ["ما هي أسعار النفط؟", "الانتخابات الرئاسية في مصر", "مباراة كرة القدم"]


def _ant_lines(count: int) -> list[str]:
    require(ANT.is_file(), f"shared ANT corpus not present at {ANT}")
    lines = []
    with gzip.open(ANT, "rt", encoding="utf-8") as stream:
        for line in stream:
            if len(lines) == count:
                break
            lines.append(line)
    return lines


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _passages(retriever: qa.Retriever) -> dict[str, tuple[str, str, np.ndarray]]:
    stored = retriever.store.iter_passages()
    return {s.passage.id: (s.passage.text, s.article.origin, retriever.store.vectors([s.row])[0]) for s in stored}


# ---------------------------------------------------------------- pure logic

def test_auto_index_type_switches_at_the_documented_threshold() -> None:
    assert choose_type("auto", FLAT_MAX_PASSAGES) == "flat"
    assert choose_type("auto", FLAT_MAX_PASSAGES + 1) == "hnsw"
    assert choose_type("hnsw", 10) == "hnsw" and choose_type("flat", 10**7) == "flat"
    with pytest.raises(SettingsError, match="auto, flat, hnsw"):
        choose_type("ivf", 10)
    with pytest.raises(SettingsError, match="index_type"):
        Settings(index_type="ivf")


def _unit(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, 32)).astype(np.float32)
    vectors = centers[rng.integers(0, 20, rows)] + 0.5 * rng.normal(size=(rows, 32)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_neighbours_is_brute_force() -> None:
    vectors, queries = _unit(3000, 1), _unit(7, 2)
    expected = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :5]
    assert np.array_equal(exact_neighbours(vectors, queries, 5, block=256), expected)


def test_recall_is_one_for_exact_search_and_low_for_a_wrong_index() -> None:
    vectors = _unit(3000, 3)
    assert measure_recall(VectorIndex.build(vectors, "flat"), vectors, queries=100)["recall"] == 1.0
    shuffled = VectorIndex.build(vectors[np.random.default_rng(0).permutation(len(vectors))], "flat")
    assert measure_recall(shuffled, vectors, queries=100)["recall"] < 0.1


def test_hnsw_finds_what_exact_search_finds_and_honours_filters() -> None:
    vectors = _unit(5000, 4)
    hnsw, flat = VectorIndex.build(vectors, "hnsw"), VectorIndex.build(vectors, "flat")
    recall = measure_recall(hnsw, vectors, queries=200)
    assert recall["recall"] >= 0.98 and recall["recall_raw"] <= recall["recall"]
    queries = vectors[[10, 20, 30, 40, 50]] + 0.3 * _unit(5, 5)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert np.array_equal(hnsw.search(queries, 50).rows[:, :10], flat.search(queries, 10).rows)
    # Scores are exact (re-scored from the float32 vectors), not the quantized ones.
    np.testing.assert_allclose(hnsw.search(queries, 50).scores[:, :10], flat.search(queries, 10).scores, rtol=1e-5)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[::7] = True
    assert np.array_equal(hnsw.search(queries, 5, allowed).rows, flat.search(queries, 5, allowed).rows)


# ---------------------------------------------------------------- end to end, real model

@pytest.mark.slow
def test_incremental_sync_adds_changes_and_removes_like_a_fresh_build(tmp_path: Path, embedder: Embedder) -> None:
    lines = _ant_lines(16)
    out = tmp_path / "vectors"
    first = qa.build_index([_write(tmp_path / "day1.jsonl", lines[:12])], out, embedder=embedder)
    assert first.embedded == first.passages and first.kept_articles == 0

    changed = json.loads(lines[5])
    changed["text"] += "\nفقرة جديدة أضيفت إلى الخبر بعد نشره عن مفاوضات المياه."
    day2 = [*lines[2:5], json.dumps(changed, ensure_ascii=False) + "\n", *lines[6:16]]  # 2 removed, 1 changed, 4 added
    source = _write(tmp_path / "day2.jsonl", day2)
    update = qa.build_index([source], out, embedder=embedder)
    assert (update.kept_articles, update.changed_articles, update.removed_articles, update.articles) == (9, 1, 2, 14)
    assert 0 < update.embedded < update.passages - 9

    fresh = qa.build_index([source], tmp_path / "fresh", embedder=embedder, force=True)
    assert fresh.embedded == fresh.passages == update.passages
    incremental, rebuilt = qa.Retriever.load(out, embedder=embedder), qa.Retriever.load(tmp_path / "fresh", embedder=embedder)
    a, b = _passages(incremental), _passages(rebuilt)
    assert a.keys() == b.keys()
    assert all(a[key][:2] == b[key][:2] for key in a)
    # bf16 results move in the 4th decimal with the batch a passage was embedded in.
    assert min(float(a[key][2] @ b[key][2]) for key in a) > 0.998
    assert incremental.manifest.corpus_sha256 == rebuilt.manifest.corpus_sha256
    for question in QUESTIONS:
        assert [h.passage_id for h in incremental.search(question, 5, mode="lexical")] == [
            h.passage_id for h in rebuilt.search(question, 5, mode="lexical")
        ]
        assert [h.passage_id for h in incremental.search(question, 3)] == [h.passage_id for h in rebuilt.search(question, 3)]

    again = qa.build_index([source], out, embedder=embedder)
    assert again.unchanged and again.path == update.path and again.embedded == 0

    moved = tmp_path / "moved.jsonl"
    source.rename(moved)
    relocated = qa.build_index([moved], out, embedder=embedder)
    assert not relocated.unchanged and relocated.kept_articles == 14 and relocated.embedded == 0
    origins = {origin for _, origin, _ in _passages(qa.Retriever.load(out, embedder=embedder)).values()}
    assert {origin.rsplit(":", 1)[0] for origin in origins} == {str(moved)}


@pytest.mark.slow
def test_hnsw_index_is_extended_on_append_and_rebuilt_on_removal(tmp_path: Path, embedder: Embedder) -> None:
    lines = _ant_lines(10)
    out = tmp_path / "vectors"
    settings = Settings(index_type="hnsw")
    qa.build_index([_write(tmp_path / "a.jsonl", lines[:6])], out, embedder=embedder, settings=settings)
    appended = qa.build_index([_write(tmp_path / "a.jsonl", lines[:10])], out, embedder=embedder, settings=settings)
    index = appended.manifest.index
    assert index.type == "hnsw" and index.built == "extended" and index.size == appended.passages
    assert index.recall is not None and index.recall.recall >= 0.98
    retriever = qa.Retriever.load(out, embedder=embedder)
    vectors = retriever.store.vectors(range(retriever.size))
    for question in QUESTIONS:
        expected = exact_neighbours(vectors, embedder.encode_queries([question]), 5)[0]
        assert [h.passage_id for h in retriever.search(question, 5, mode="dense")] == [
            s.passage.id for s in retriever.store.passages(expected)
        ]
    removed = qa.build_index([_write(tmp_path / "a.jsonl", lines[2:10])], out, embedder=embedder, settings=settings)
    assert removed.manifest.index.built == "new" and removed.removed_articles == 2


@pytest.mark.slow
def test_building_a_few_hundred_news_articles_stays_in_bounded_memory(tmp_path: Path) -> None:
    source = _write(tmp_path / "ant.jsonl", _ant_lines(150))
    # Linux reports as a child's peak at least the RSS of the process it was forked from (the
    # hiwater mark survives exec), and this test process holds models: a small launcher forks it.
    launcher = (
        "import json, os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-m', 'qa.cli', *sys.argv[1:]], stdout=subprocess.DEVNULL)\n"
        "_, status, usage = os.wait4(child.pid, 0)\n"
        "print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'peak_kib': usage.ru_maxrss}))\n"
    )
    out = tmp_path / "v"
    done = subprocess.run(
        [sys.executable, "-c", launcher, "build", str(source), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=1800,
    )
    measured = json.loads(done.stdout)
    assert measured["code"] == 0, done.stderr
    manifest = json.loads((out / (out / "CURRENT").read_text().strip() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["articles"] == 150 and manifest["counts"]["passages"] > 150
    peak_mib = measured["peak_kib"] / 1024
    assert peak_mib < 2048, f"peak resident memory {peak_mib:.0f} MiB"
