"""qa.model: finding a model's folder offline, reading its own settings, fingerprinting its weights."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from types import MappingProxyType

import pytest

from qa.embed import Embedder
from qa.errors import ModelError
from qa.model import (
    E5_PROMPTS,
    ResolvedModel,
    cpu_has_amx,
    cpu_supports_bf16,
    load_tokenizer,
    read_json,
    read_max_tokens,
    read_prompts,
    resolve_model,
    weights_fingerprint,
)
from tests.offline import minilm_path, no_network  # noqa: F401  (fixtures)


def write_json(file: Path, value: object) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(value), encoding="utf-8")


def resolved(path: Path, fallback: dict[str, str] | None = None) -> ResolvedModel:
    return ResolvedModel(path, "test", None, MappingProxyType(fallback or {}))


# --- resolution ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["no-such-org/no-such-model", "./no/such/folder", "no such model"])
def test_unknown_model_says_how_to_fix(name: str) -> None:
    # The first import of huggingface_hub is not waiting; on a busy machine it alone can take seconds.
    import huggingface_hub  # noqa: F401

    start = time.perf_counter()
    with pytest.raises(ModelError) as caught:
        Embedder(name).encode_queries(["anything"])
    message = str(caught.value)
    assert repr(name) in message
    assert "path of a sentence-transformers folder" in message
    assert "Hugging Face cache" in message
    assert time.perf_counter() - start < 5, "resolving a missing model must not wait on anything"


def test_full_precision_copy_in_the_hf_cache_is_preferred(
    tmp_path: Path, minilm_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    import huggingface_hub.constants

    repo = tmp_path / "hub" / "models--intfloat--multilingual-e5-small"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    # Stand-in weights: this test is about where the files are found, not what they are.
    shutil.copytree(minilm_path, snapshot, ignore=shutil.ignore_patterns("*.safetensors"))
    (snapshot / "model.safetensors").symlink_to(minilm_path / "model.safetensors")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    embedder = Embedder(cache_dir=tmp_path / "qa")
    assert embedder.path == snapshot
    assert not (tmp_path / "qa").exists(), "nothing materialized"
    # Folders of the e5 family saved without prompts still get theirs.
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")
    assert embedder.count_tokens(["hello world"]) == [2]


def test_local_folder_resolves_to_itself(minilm_path: Path) -> None:  # noqa: F811
    found = resolve_model(str(minilm_path))
    assert found.path == minilm_path.resolve()
    assert found.source == f"local folder: {minilm_path.resolve()}"
    assert found.fingerprint is None
    assert dict(found.fallback_prompts) == {}


def test_e5_names_fall_back_to_e5_prompts(tmp_path: Path) -> None:
    folder = tmp_path / "intfloat" / "e5-base-v2"
    folder.mkdir(parents=True)
    # A relative name that is an e5 repository id and also a local folder.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        found = resolve_model("intfloat/e5-base-v2")
    assert found.path == folder.resolve()
    assert found.fallback_prompts == E5_PROMPTS


# --- the folder's own settings ---------------------------------------------------------------


def test_saved_prompts_win_over_the_fallback(tmp_path: Path) -> None:
    write_json(tmp_path / "config_sentence_transformers.json", {"prompts": {"query": "q: ", "corpus": "c: "}})
    assert read_prompts(resolved(tmp_path, dict(E5_PROMPTS))) == ("q: ", "c: ")


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        ({"query": "q: ", "passage": "p: ", "document": "d: "}, ("q: ", "d: ")),
        ({"passage": "p: ", "corpus": "c: "}, ("", "p: ")),
        ({"other": "o: "}, ("", "")),
    ],
)
def test_passage_prompt_follows_encode_documents_preference(
    tmp_path: Path, saved: dict[str, str], expected: tuple[str, str]
) -> None:
    write_json(tmp_path / "config_sentence_transformers.json", {"prompts": saved})
    assert read_prompts(resolved(tmp_path)) == expected


def test_folder_without_prompts_uses_the_fallback(tmp_path: Path) -> None:
    assert read_prompts(resolved(tmp_path, dict(E5_PROMPTS))) == ("query: ", "passage: ")
    assert read_prompts(resolved(tmp_path)) == ("", "")


POSITIONS_512 = {"config.json": {"max_position_embeddings": 512}}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"sentence_bert_config.json": {"max_seq_length": 256}, **POSITIONS_512}, 256),
        ({"tokenizer_config.json": {"model_max_length": 128}, **POSITIONS_512}, 128),
        # Tokenizers without a limit save a huge sentinel; the model's positions bound it then.
        ({"tokenizer_config.json": {"model_max_length": 10**30}, **POSITIONS_512}, 512),
    ],
)
def test_max_tokens_is_the_limit_sentence_transformers_applies(
    tmp_path: Path, files: dict[str, dict[str, int]], expected: int
) -> None:
    for name, value in files.items():
        write_json(tmp_path / name, value)
    assert read_max_tokens(tmp_path) == expected


def test_folder_stating_no_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="states no maximum sequence length"):
        read_max_tokens(tmp_path)


def test_tokenizer_counts_everything_and_knows_about_lowercasing(
    tmp_path: Path, minilm_path: Path  # noqa: F811
) -> None:
    tokenizer, lowercase = load_tokenizer(minilm_path)
    assert lowercase is False
    assert tokenizer.truncation is None and tokenizer.padding is None
    shutil.copy(minilm_path / "tokenizer.json", tmp_path / "tokenizer.json")
    write_json(tmp_path / "sentence_bert_config.json", {"do_lower_case": True})
    assert load_tokenizer(tmp_path)[1] is True


def test_folder_without_tokenizer_json_says_how_to_save_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="has no tokenizer.json.*save_pretrained"):
        load_tokenizer(tmp_path)


def test_read_json_names_the_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="absent.json is missing"):
        read_json(tmp_path / "absent.json")
    assert read_json(tmp_path / "absent.json", missing={}) == {}
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read .*broken.json"):
        read_json(tmp_path / "broken.json", missing={})


# --- fingerprints ------------------------------------------------------------------------------


def test_fingerprint_of_one_weights_file_is_its_sha256(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "pytorch_model.bin").write_bytes(b"ignored: safetensors come first")
    assert weights_fingerprint(tmp_path) == hashlib.sha256(b"weights").hexdigest()


def test_fingerprint_of_a_sharded_checkpoint_hashes_the_shard_list(tmp_path: Path) -> None:
    shards = {"model-00002-of-00002.safetensors": b"two", "model-00001-of-00002.safetensors": b"one"}
    for name, data in shards.items():
        (tmp_path / name).write_bytes(data)
    listing = "".join(f"{name} {hashlib.sha256(shards[name]).hexdigest()}\n" for name in sorted(shards))
    assert weights_fingerprint(tmp_path) == hashlib.sha256(listing.encode("utf-8")).hexdigest()


def test_folder_without_weights_has_no_fingerprint(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="holds no model weights"):
        weights_fingerprint(tmp_path)


# --- the CPU -------------------------------------------------------------------------------------


def test_cpu_supports_bf16_reads_the_cpu_flags() -> None:
    flags = ""
    if Path("/proc/cpuinfo").exists():
        flags = next(
            (line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), ""
        )
    expected = "avx512_bf16" in flags.split() or "amx_bf16" in flags.split()
    assert cpu_supports_bf16() is expected
    assert cpu_has_amx() is ("amx_bf16" in flags.split())
