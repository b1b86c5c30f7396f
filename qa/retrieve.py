"""Questions in, ranked passages out: the `Retriever` over a built index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.config import DEFAULT_INDEX_DIR
from qa.embed import Embedder
from qa.errors import IndexMismatchError, QueryError
from qa.index import INDEX_FILE, VectorIndex
from qa.records import Article, Hit
from qa.store import REBUILD_HINT, STORE, PassageStore, StoredPassage, open_generation

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 200


class Retriever:
    """Searches one built index. Load it with `Retriever.load(path)`."""

    def __init__(self, folder: Path, manifest: dict[str, Any], store: PassageStore, index: VectorIndex, embedder: Embedder) -> None:
        self.folder = folder
        self.manifest = manifest
        self._store = store
        self._index = index
        self._embedder = embedder

    @classmethod
    def load(
        cls,
        path: str | Path = DEFAULT_INDEX_DIR,
        *,
        model: str | None = None,
        chunk_tokens: int | None = None,
        embedder: Embedder | None = None,
        verify: bool = True,
    ) -> Retriever:
        """Open the index at `path`, checking its files against the manifest.

        Args:
            path: the folder `qa build` wrote.
            model: the model the caller expects; by default, the one that built the index.
            chunk_tokens: the passage size the caller expects; by default, the index's.
            embedder: an already loaded embedder to share (it must be the index's model).
            verify: check the sha256 of every file (sizes are always checked).

        Raises:
            IndexMissingError, IndexCorruptError, IndexMismatchError.
        """
        out = Path(path)
        folder, manifest = open_generation(out, verify=verify)
        hint = REBUILD_HINT.format(out=out)
        built = manifest["model"]
        if model is not None and model != built["name"]:
            raise IndexMismatchError(
                f"{out} was built with the model {built['name']!r}, not {model!r}; "
                f"load it without a model, or rebuild it with `qa build SOURCES --out {out} --model {model}`"
            )
        built_chunk = manifest["chunking"]["chunk_tokens"]
        if chunk_tokens is not None and chunk_tokens != built_chunk:
            raise IndexMismatchError(
                f"{out} was built with passages of {built_chunk} tokens, not {chunk_tokens}; "
                f"rebuild it with `qa build SOURCES --out {out} --chunk-tokens {chunk_tokens}`"
            )
        if embedder is None:
            embedder = Embedder(built["name"], precision=built["precision"])
        if embedder.fingerprint != built["fingerprint"]:
            raise IndexMismatchError(
                f"{out} was built with other weights than those of {embedder.name!r} "
                f"(fingerprint {built['fingerprint'][:12]} vs {embedder.fingerprint[:12]}); {hint}"
            )
        index = VectorIndex.load(folder / INDEX_FILE)
        if index.dimension != embedder.dimension:
            raise IndexMismatchError(f"{out} holds {index.dimension}-dimensional vectors, the model makes {embedder.dimension}; {hint}")
        return cls(folder, manifest, PassageStore.open(folder / STORE), index, embedder)

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def size(self) -> int:
        """Number of passages in the index."""
        return self._index.size

    def search(self, question: str, k: int = 5) -> list[Hit]:
        """The `k` passages closest to `question`, best first."""
        return self.search_many([question], k)[0]

    def search_many(self, questions: Sequence[str], k: int = 5) -> list[list[Hit]]:
        """Search a batch of questions at once; one list of hits per question."""
        if isinstance(questions, str):
            raise QueryError("search_many takes a list of questions; use search() for one question")
        questions = [check_question(q) for q in questions]
        check_k(k)
        if not questions:
            return []
        matches = self._index.search(self._embedder.encode_queries(questions), k)
        results = []
        for rows, scores in zip(matches.rows, matches.scores):
            keep = [(int(r), float(s)) for r, s in zip(rows, scores) if r >= 0]
            stored = self._store.get(r for r, _ in keep)
            results.append([_hit(p, s) for p, (_, s) in zip(stored, keep)])
        return results

    def article(self, article_id: str) -> Article:
        """The whole article, as ingested."""
        article = self._store.article(article_id)
        if article is None:
            raise QueryError(f"no article with id {article_id!r} in {self.folder}")
        return article


def check_question(question: str) -> str:
    """Return the question stripped, or raise QueryError saying what is wrong."""
    if not isinstance(question, str):
        raise QueryError(f"a question must be text, got {type(question).__name__}")
    question = question.strip()
    if not question:
        raise QueryError("the question is empty; type a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise QueryError(f"the question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    return question


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_TOP_K:
        raise QueryError(f"k must be a whole number from 1 to {MAX_TOP_K}, got {k!r}")
    return k


def _hit(stored: StoredPassage, score: float) -> Hit:
    passage, article = stored.passage, stored.article
    return Hit(
        passage_id=passage.id, article_id=article.id, ordinal=passage.ordinal, text=passage.text,
        score=score, start=passage.start, end=passage.end, title=article.title, origin=article.origin,
        site=article.site, agency=article.agency, published=article.published, url=article.url,
        category=article.category,
    )
