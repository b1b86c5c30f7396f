"""The trained reader: its shipped weights, their checksum, numpy inference equal to torch's, real reading, and training."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED, require
from qa.errors import ModelError
from qa.reader import READER_FILE, READER_SHA256, best_span, char_span, load_reader, sentence_features, span_probability
from qa.reader.model import sha256_of
from qa.reader.span import f1

AAQAD = SHARED / "data" / "train" / "aaqad.json"


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_the_shipped_weights_are_small_and_match_their_checksum() -> None:
    assert READER_FILE.stat().st_size <= 20 * 1024 * 1024
    assert sha256_of(READER_FILE) == READER_SHA256
    reader = load_reader()
    assert reader.name.startswith("reader-") and READER_SHA256[:12] in reader.name


def test_a_damaged_file_is_refused_with_the_command_that_restores_it(tmp_path: Path) -> None:
    damaged = tmp_path / "reader.safetensors"
    shutil.copy(READER_FILE, damaged)
    data = bytearray(damaged.read_bytes())
    data[-10] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"damaged .*git checkout -- qa/reader/reader.safetensors"):
        load_reader(damaged)


def test_a_missing_or_foreign_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing"):
        load_reader(tmp_path / "absent.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ModelError, match="not a reader's weights"):
        load_reader(foreign, sha256=None)


def test_numpy_reading_equals_the_torch_network_it_was_trained_as() -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from qa.reader.train import ReaderNet

    reader = load_reader()
    net = ReaderNet(reader.config)
    net.load_state_dict({k: v.float() for k, v in load_file(str(READER_FILE)).items()})
    net.eval()
    rng = np.random.default_rng(7)
    question = _unit(rng.normal(size=(11, reader.config.dimension)))
    lengths = (4, 19, 33)
    sentences = [_unit(rng.normal(size=(n, reader.config.dimension))) for n in lengths]
    features = sentence_features(np.array([0.78, 0.84, 0.91]))
    readings = reader.read(question, sentences, features)
    padded = torch.zeros(3, max(lengths), reader.config.dimension)
    for b, s in enumerate(sentences):
        padded[b, : len(s)] = torch.from_numpy(s)
    with torch.no_grad():
        answer, spans = net(torch.from_numpy(np.stack([question] * 3)), torch.tensor([11] * 3), padded,
                            torch.tensor(lengths), torch.from_numpy(features))
    assert np.allclose([r.answer for r in readings], answer.numpy(), atol=1e-4)
    for b, reading in enumerate(readings):
        assert np.allclose(reading.start, spans[b, 12: 12 + lengths[b], 0].numpy(), atol=1e-4)
        assert np.allclose(reading.end, spans[b, 12: 12 + lengths[b], 1].numpy(), atol=1e-4)


def test_best_span_keeps_order_and_length() -> None:
    start = np.array([-5.0, 5.0, 0.0, 0.0])
    end = np.array([9.0, 0.0, 1.0, 4.0])
    assert best_span(start, end) == (1, 3)  # end 0 scores more but lies before the start
    assert best_span(start, end, limit=2) == (1, 2)
    assert best_span(np.zeros(0), np.zeros(0)) is None
    assert 0.0 < span_probability(start, end, (1, 3)) < 1.0


def test_char_span_completes_the_last_word_and_drops_leading_punctuation() -> None:
    text = "زار «الرئيس» مدينة فريدريكسبورغ أمس."
    offsets = np.array([[0, 3], [4, 5], [5, 11], [19, 25]])
    assert text[slice(*char_span(text, offsets, (1, 2)))] == "الرئيس"
    assert text[slice(*char_span(text, offsets, (3, 3)))] == "فريدريكسبورغ"


def test_f1_grades_on_normalized_tokens() -> None:
    assert f1("مدينة القاهرة", "القاهره") == pytest.approx(2 / 3)
    assert f1("", "x") == 0.0 and f1("a b", "a b") == 1.0


@pytest.mark.slow
def test_the_reader_finds_the_answering_sentence_and_its_phrase(embedder) -> None:
    sentences = [
        "افتتح المتحف الوطني الجديد أبوابه أمام الزوار بعد سنوات من الترميم.",
        "وقال مدير المتحف إن المبنى صممه المهندس المعماري رفعت الجادرجي عام 1965.",
        "ويضم المتحف أكثر من عشرة آلاف قطعة أثرية من حضارات مختلفة.",
    ]
    question = "من صمم مبنى المتحف؟"
    embedded = embedder.encode_tokens(sentences, query=False)
    asked = embedder.encode_tokens([question], query=True)
    reader = load_reader()
    readings = reader.read(asked.tokens[0], embedded.tokens, sentence_features(embedded.vectors @ asked.vectors[0]))
    best = int(np.argmax([r.answer for r in readings]))
    assert best == 1
    span = best_span(readings[1].start, readings[1].end)
    start, end = char_span(sentences[1], embedded.offsets[1], span)
    assert "الجادرجي" in sentences[1][start:end]


@pytest.mark.slow
def test_training_on_a_few_dozen_examples_lowers_the_loss(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require(AAQAD.is_file(), f"AAQAD not present at {AAQAD}")
    pytest.importorskip("torch")
    from qa.reader.train import main

    out = tmp_path / "reader.safetensors"
    assert main(["--limit", "40", "--epochs", "4", "--batch", "16", "--cache", str(tmp_path / "cache"), "--out", str(out)]) == 0
    losses = [float(x) for x in re.findall(r"epoch \d+: loss ([0-9.]+)", capsys.readouterr().out)]
    assert len(losses) == 4 and losses[-1] < losses[0] * 0.9
    assert load_reader(out, sha256=None).config.width == 256
