"""The BM25 keyword index over Arabic-normalized, lightly stemmed passages: the lexical half of hybrid retrieval."""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from qa.errors import IndexCorruptError, IndexMismatchError, SettingsError
from qa.normalize import normalize
from qa.text.words import INDEX_STEMMERS, INDEX_TOKEN, index_stem, is_index_stopword, snowball_stemmer

# Bump whenever the terms analyze() produces change (stopword lists and stemming rules in
# qa.text.words, tokenization here): an index built by another version would be queried with other terms.
ANALYZER_VERSION = 1

CONFIG_FILE = "lexical.json"
_BM25_FILES = {
    "params_name": "lexical.params.json",
    "vocab_name": "lexical.vocab.json",
    "data_name": "lexical.data.npy",
    "indices_name": "lexical.indices.npy",
    "indptr_name": "lexical.indptr.npy",
}
_FORMAT = 1
# The usual Lucene defaults, deliberately not tuned on any question set.
_K1 = 1.5
_B = 0.75

# After normalize() digits are ASCII; a number and the letters glued to it ("2018م") are
# separate terms, so the number still matches on its own.


@dataclass(frozen=True)
class Analyzer:
    """How text becomes index terms; one analyzer must serve both the passages and the queries.

    `stemmer` is "light" (clitic and suffix stripping of our own), "snowball"
    (PyStemmer's Arabic) or "none"; Latin words and numbers are never stemmed.
    The stopwords and stems are the index policy of `qa.text.words`.
    """

    stemmer: str = "light"
    stopwords: bool = True
    min_stem: int = 3

    def __post_init__(self) -> None:
        if self.stemmer not in INDEX_STEMMERS:
            raise SettingsError(f"unknown stemmer {self.stemmer!r}; choose one of {', '.join(INDEX_STEMMERS)}")
        if self.min_stem < 2:
            raise SettingsError(f"min_stem must be at least 2, got {self.min_stem}")
        if self.stemmer == "snowball":
            snowball_stemmer()

    def tokens(self, text: str) -> list[str]:
        """Return the index terms of `text`, in order, repeats kept."""
        terms = []
        for token in INDEX_TOKEN.findall(normalize(text)):
            if token.isdigit():
                terms.append(token)
            elif len(token) > 1 and not (self.stopwords and is_index_stopword(token)):
                terms.append(index_stem(token, self.stemmer, self.min_stem))
        return terms

    def config(self) -> dict[str, Any]:
        return {
            "version": ANALYZER_VERSION,
            "stemmer": self.stemmer,
            "stopwords": self.stopwords,
            "min_stem": self.min_stem,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Analyzer:
        """Rebuild the analyzer an index was saved with.

        Raises:
            IndexMismatchError: the index was analyzed by another version of this code.
        """
        version = config.get("version")
        if version != ANALYZER_VERSION:
            raise IndexMismatchError(
                f"the lexical index was built with analyzer version {version}, this code uses "
                f"version {ANALYZER_VERSION}; run `qa build` again"
            )
        return cls(stemmer=config["stemmer"], stopwords=config["stopwords"], min_stem=config["min_stem"])


DEFAULT_ANALYZER = Analyzer()


def analyze(text: str) -> list[str]:
    """Return the terms of `text` as the lexical index sees them, for passages and questions alike.

    Normalization (see `qa.normalize`), tokenization into runs of letters and of
    digits, Arabic, English and French stopwords removed, Arabic light stemming.
    """
    return DEFAULT_ANALYZER.tokens(text)


@dataclass(frozen=True)
class LexicalMatches:
    """Matches of one query, best first: row ids (int64) and BM25 scores (float32), all scores > 0."""

    rows: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


class LexicalIndex:
    """A BM25 index whose row i is passage row i of the store (the same numbering as the FAISS index)."""

    def __init__(self, bm25: bm25s.BM25, analyzer: Analyzer, terms: Terms | None = None) -> None:
        self._bm25 = bm25
        self._analyzer = analyzer
        self._terms = terms

    @classmethod
    def build(cls, texts: Sequence[str] | Iterable[str], analyzer: Analyzer = DEFAULT_ANALYZER) -> LexicalIndex:
        """Index `texts`, text i becoming row i; pass each passage as title + "\\n" + text.

        The texts are read once and kept only as term ids, so any iterable works.
        """
        terms = Terms.empty()
        vocab: dict[str, int] = {}
        terms = terms.extend(analyzer, texts, vocab)
        return cls.from_terms(terms, vocab, analyzer)

    @classmethod
    def from_terms(cls, terms: Terms, vocab: dict[str, int], analyzer: Analyzer = DEFAULT_ANALYZER) -> LexicalIndex:
        """Index passages already analyzed into term ids (`terms` row i is passage row i).

        The BM25 (Lucene variant) score of every (term, passage) pair is computed
        with array operations, so a rebuild that reuses stored terms never
        analyzes unchanged passages again.
        """
        bm25 = bm25s.BM25(k1=_K1, b=_B, method="lucene")
        bm25.vocab_dict = dict(vocab)
        bm25.nonoccurrence_array = None
        bm25.scores = _bm25_matrix(terms, len(vocab))
        return cls(bm25, analyzer, terms)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Load an index written by `save`.

        Raises:
            IndexCorruptError: a file is missing, unreadable or inconsistent with the others.
            IndexMismatchError: the index was built by another version of the analyzer.
        """
        config_path = folder / CONFIG_FILE
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            size = int(config["size"])
            analyzer = Analyzer.from_config(dict(config["analyzer"]))
        except FileNotFoundError:
            raise IndexCorruptError(f"{config_path} is missing; run `qa build` again") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{config_path} is unreadable ({exc!r}); run `qa build` again") from None
        try:
            bm25 = bm25s.BM25.load(folder, **_BM25_FILES, load_corpus=False, show_progress=False)
            _check_consistent(bm25, size, folder)
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{exc.filename} is missing; run `qa build` again") from None
        # A damaged file surfaces as whichever error numpy, json or bm25s hits first.
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexCorruptError(
                f"the lexical index in {folder} is unreadable ({exc!r}); run `qa build` again"
            ) from None
        return cls(bm25, analyzer, Terms.load(folder))

    def save(self, folder: Path) -> list[str]:
        """Write the index into `folder` as .npy arrays and JSON (never pickle); return the file names written.

        The passages' term ids are written too (when known), for the next build to reuse.
        """
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(folder, **_BM25_FILES, allow_pickle=False, show_progress=False)
        config = {"format": _FORMAT, "size": self.size, "analyzer": self._analyzer.config()}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        files = [CONFIG_FILE, *_BM25_FILES.values()]
        if self._terms is not None:
            files += self._terms.save(folder)
        return files

    @property
    def terms(self) -> Terms | None:
        """Each passage's term ids, when the index was saved with them."""
        return self._terms

    @property
    def vocab(self) -> dict[str, int]:
        """Term to term id."""
        return self._bm25.vocab_dict

    @property
    def size(self) -> int:
        return int(self._bm25.scores["num_docs"])

    @property
    def term_count(self) -> int:
        """How many distinct terms the passages hold."""
        return len(self._bm25.vocab_dict)

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    def search(self, queries: Sequence[str], k: int, allowed: np.ndarray | None = None) -> list[LexicalMatches]:
        """Return the best `k` rows of each query, best first, ties broken by the lower row.

        Only rows with a positive score are returned, so a query with no indexed
        term (only stopwords, or words absent from the corpus) gets no matches.

        Args:
            queries: the questions, analyzed like the passages.
            k: how many rows at most per query.
            allowed: a boolean mask over rows; rows where it is False are dropped
                before the best `k` are chosen, so they never take a place.

        Raises:
            SettingsError: `k` is not positive, `queries` is a single string, or
                `allowed` is not a boolean array of one value per row.
        """
        if isinstance(queries, str):
            raise SettingsError("queries must be a sequence of strings, not one string")
        if k < 1:
            raise SettingsError(f"k must be at least 1, got {k}")
        weights = None
        if allowed is not None:
            if not isinstance(allowed, np.ndarray) or allowed.dtype != np.bool_ or allowed.shape != (self.size,):
                shape = getattr(allowed, "shape", None)
                dtype = getattr(allowed, "dtype", type(allowed).__name__)
                raise SettingsError(
                    f"allowed must be a boolean array of shape ({self.size},), got {dtype} of shape {shape}"
                )
            weights = allowed.astype(np.float32)
        vocab = self._bm25.vocab_dict
        results = []
        for query in queries:
            ids = [vocab[term] for term in self._analyzer.tokens(query) if term in vocab]
            if not ids:
                results.append(LexicalMatches(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)))
                continue
            scores = self._bm25.get_scores_from_ids(ids, weight_mask=weights)
            results.append(_top(scores, k))
        return results


TERMS_FILE = "lexical.terms.npy"
OFFSETS_FILE = "lexical.offsets.npy"


@dataclass(frozen=True)
class Terms:
    """The term ids of many passages, concatenated: passage i is ids[offsets[i]:offsets[i + 1]]."""

    ids: np.ndarray
    offsets: np.ndarray

    @classmethod
    def empty(cls) -> Terms:
        return cls(np.empty(0, dtype=np.int32), np.zeros(1, dtype=np.int64))

    @classmethod
    def load(cls, folder: Path) -> Terms | None:
        """The terms saved in `folder`, memory-mapped; None when the index has none."""
        if not (folder / TERMS_FILE).is_file() or not (folder / OFFSETS_FILE).is_file():
            return None
        ids = np.load(folder / TERMS_FILE, mmap_mode="r", allow_pickle=False)
        offsets = np.load(folder / OFFSETS_FILE, allow_pickle=False)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ids):
            raise IndexCorruptError(f"the lexical terms in {folder} are inconsistent; run `qa build` again")
        return cls(ids, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def save(self, folder: Path) -> list[str]:
        np.save(folder / TERMS_FILE, np.ascontiguousarray(self.ids, dtype=np.int32), allow_pickle=False)
        np.save(folder / OFFSETS_FILE, self.offsets, allow_pickle=False)
        return [TERMS_FILE, OFFSETS_FILE]

    def take(self, rows: np.ndarray) -> Terms:
        """The terms of `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(rows) and np.all(rows[1:] == rows[:-1] + 1):
            ids = np.asarray(self.ids[starts[0]:ends[-1]], dtype=np.int32)
        else:
            ids = np.concatenate([self.ids[s:e] for s, e in zip(starts, ends)]) if len(rows) else np.empty(0, np.int32)
        return Terms(ids.astype(np.int32, copy=False), offsets)

    def extend(self, analyzer: Analyzer, texts: Iterable[str], vocab: dict[str, int]) -> Terms:
        """These terms followed by those of `texts`; new terms are added to `vocab` (ids only grow)."""
        lengths: list[int] = []
        ids = array("i")
        for text in texts:
            before = len(ids)
            ids.extend(vocab.setdefault(term, len(vocab)) for term in analyzer.tokens(text))
            lengths.append(len(ids) - before)
        offsets = np.concatenate([self.offsets, self.offsets[-1] + np.cumsum(np.array(lengths, dtype=np.int64))])
        added = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.empty(0, dtype=np.int32)
        return Terms(np.concatenate([np.asarray(self.ids, dtype=np.int32), added]), offsets)

    def concat(self, other: Terms) -> Terms:
        return Terms(
            np.concatenate([np.asarray(self.ids, dtype=np.int32), np.asarray(other.ids, dtype=np.int32)]),
            np.concatenate([self.offsets, self.offsets[-1] + other.offsets[1:]]),
        )


def _bm25_matrix(terms: Terms, vocab_size: int, *, block_docs: int = 8192) -> dict[str, Any]:
    """The term-major sparse matrix of BM25 scores bm25s searches, as its `index()` would compute it.

    Computed `block_docs` passages at a time, in two passes (document frequencies,
    then scores written straight to their place), so the temporary arrays are
    those of one block, not of the whole corpus; the matrix is the same for any block size.
    """
    docs = len(terms)
    lengths = np.diff(terms.offsets)
    if docs == 0 or len(terms.ids) == 0:
        return {
            "data": np.empty(0, dtype=np.float32), "indices": np.empty(0, dtype=np.int32),
            "indptr": np.zeros(vocab_size + 1, dtype=np.int32), "num_docs": docs,
        }
    blocks = [(start, min(start + block_docs, docs)) for start in range(0, docs, block_docs)]
    df = np.zeros(vocab_size, dtype=np.int64)
    for start, end in blocks:
        df += np.bincount(_term_doc_pairs(terms, start, end)[0], minlength=vocab_size)
    idf = np.log(1 + (docs - df + 0.5) / (df + 0.5))
    average = lengths.mean()
    indptr = np.zeros(vocab_size + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    pairs = int(indptr[-1])
    index_dtype = np.int32 if max(docs, pairs) < 2**31 else np.int64
    data = np.empty(pairs, dtype=np.float32)
    indices = np.empty(pairs, dtype=index_dtype)
    filled = indptr[:-1].copy()
    for start, end in blocks:
        term, doc, tf = _term_doc_pairs(terms, start, end)
        tf = tf.astype(np.float64)
        scores = idf[term] * tf / (tf + _K1 * (1 - _B + _B * lengths[doc] / average))
        # Pairs come sorted by term, then passage: each term's run goes after what earlier blocks wrote.
        runs = np.flatnonzero(np.concatenate([[True], term[1:] != term[:-1]]))
        rank = np.arange(len(term)) - np.repeat(runs, np.diff(np.append(runs, len(term))))
        places = filled[term] + rank
        data[places] = scores
        indices[places] = doc
        filled += np.bincount(term, minlength=vocab_size)
    return {"data": data, "indices": indices, "indptr": indptr.astype(index_dtype), "num_docs": docs}


def _term_doc_pairs(terms: Terms, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (term, passage) pairs of passages `start` to `end`, sorted by term then passage, with counts."""
    offsets = terms.offsets[start:end + 1]
    ids = np.asarray(terms.ids[offsets[0]:offsets[-1]], dtype=np.int64)
    span = end - start
    doc_of_token = np.repeat(np.arange(span, dtype=np.int64), np.diff(offsets))
    keys, tf = np.unique(ids * span + doc_of_token, return_counts=True)
    return keys // span, keys % span + start, tf


def _top(scores: np.ndarray, k: int) -> LexicalMatches:
    rows = np.flatnonzero(scores > 0)
    if rows.size > k:
        candidate_scores = scores[rows]
        kth = np.partition(candidate_scores, rows.size - k)[rows.size - k]
        above = rows[candidate_scores > kth]
        # rows is ascending, so the ties that fill the last places are the lowest rows.
        tied = rows[candidate_scores == kth][: k - above.size]
        rows = np.concatenate([above, tied])
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return LexicalMatches(rows=rows.astype(np.int64), scores=scores[rows].astype(np.float32))


def _check_consistent(bm25: bm25s.BM25, size: int, folder: Path) -> None:
    data, indices, indptr = bm25.scores["data"], bm25.scores["indices"], bm25.scores["indptr"]
    vocab_ids = np.fromiter(bm25.vocab_dict.values(), dtype=np.int64, count=len(bm25.vocab_dict))
    problems = []
    if bm25.scores["num_docs"] != size:
        problems.append(f"{bm25.scores['num_docs']} rows in the parameters, {size} in {CONFIG_FILE}")
    if indptr.ndim != 1 or len(indptr) != len(vocab_ids) + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        problems.append("the term pointers do not match the vocabulary")
    elif not (len(data) == len(indices) == indptr[-1]):
        problems.append("the score and row arrays differ in length")
    elif len(indices) and (indices.min() < 0 or indices.max() >= size):
        problems.append("a row number is out of range")
    if len(vocab_ids) and (vocab_ids.min() < 0 or vocab_ids.max() >= len(vocab_ids)):
        problems.append("a term id is out of range")
    if problems:
        raise IndexCorruptError(
            f"the lexical index in {folder} is inconsistent: {'; '.join(problems)}; run `qa build` again"
        )
