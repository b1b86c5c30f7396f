"""The trained reader at query time: numpy over the encoder's token vectors, no torch."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from qa.errors import ModelError

__all__ = ["READER_FILE", "READER_SHA256", "SCORER_FILE", "Reader", "ReaderConfig", "Reading", "Scorer", "load_reader", "load_scorer", "sha256_of"]

READER_FILE = Path(__file__).with_name("reader.safetensors")
# The sha256 of the shipped weights; `python -m qa.reader.train` prints the new one to put here.
READER_SHA256 = "f24d27498cf1bf82aac4d6056dc1a404e61a88095535ca233a223e88ae3d03cb"
SCORER_FILE = Path(__file__).with_name("scorer.json")
_RESTORE = "git checkout -- qa/reader/reader.safetensors (or retrain: python -m qa.reader.train)"
_EPS = 1e-5


@dataclass(frozen=True)
class ReaderConfig:
    """The shape of a reader: token vectors of `dimension` in, `layers` pre-norm transformer layers of `width`."""

    dimension: int = 384
    width: int = 256
    layers: int = 2
    heads: int = 4
    feed_forward: int = 512
    max_question: int = 48
    max_sentence: int = 96
    features: int = 1

    @property
    def length(self) -> int:
        return 1 + self.max_question + self.max_sentence


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one candidate sentence for a question.

    `answer`: the logit that the sentence answers it (sigmoid: a probability, calibrated on
    AAQAD's held-out paragraphs); `start`/`end`: the answer span's token logits over the
    sentence's tokens, -inf past them.
    """

    answer: float
    start: np.ndarray
    end: np.ndarray


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Reader:
    """A question and candidate sentences' token vectors in, one `Reading` per sentence out.

    Args:
        weights: the arrays `qa.reader.train` saves (names as `_names`), float32 or float16.
        config: their shape.
        name: what an answer says read it (file name and sha256 prefix).
        encoder: the fingerprint of the embedding model whose token vectors it was trained on
            (`Embedder.fingerprint`); it reads no other model's.
    """

    def __init__(self, weights: dict[str, np.ndarray], config: ReaderConfig, name: str, encoder: str = "") -> None:
        self.config = config
        self.name = name
        self.encoder = encoder
        self._w = {key: np.asarray(value, dtype=np.float32) for key, value in weights.items()}

    def read(self, question: np.ndarray, sentences: list[np.ndarray], features: np.ndarray) -> list[Reading]:
        """Read `sentences` (each (tokens, dimension)) against `question` ((tokens, dimension)).

        `features`: (len(sentences), config.features) float32, as `sentence_features` gives.
        """
        if not sentences:
            return []
        c = self.config
        q = question[: c.max_question]
        rows = [s[: c.max_sentence] for s in sentences]
        batch, length = len(rows), 1 + len(q) + max(len(s) for s in rows)
        w = self._w
        x = np.zeros((batch, length, c.width), dtype=np.float32)
        mask = np.zeros((batch, length), dtype=bool)
        qx = q @ w["in.weight"].T + w["in.bias"] + w["kind"][1]
        for b, s in enumerate(rows):
            x[b, 0] = w["cls"] + w["kind"][0] + features[b] @ w["feat.weight"].T + w["feat.bias"]
            x[b, 1: 1 + len(q)] = qx
            x[b, 1 + len(q): 1 + len(q) + len(s)] = s @ w["in.weight"].T + w["in.bias"] + w["kind"][2]
            mask[b, : 1 + len(q) + len(s)] = True
        x[:, : 1 + len(q)] += w["pos"][: 1 + len(q)]
        x[:, 1 + len(q):] += w["spos"][: length - 1 - len(q)]
        for layer in range(c.layers):
            x = x + self._attention(_norm(x, w, f"layers.{layer}.ln1"), mask, layer)
            h = _norm(x, w, f"layers.{layer}.ln2") @ w[f"layers.{layer}.ff1.weight"].T + w[f"layers.{layer}.ff1.bias"]
            x = x + _gelu(h) @ w[f"layers.{layer}.ff2.weight"].T + w[f"layers.{layer}.ff2.bias"]
        x = _norm(x, w, "ln")
        answer = x[:, 0] @ w["answer.weight"].T + w["answer.bias"]
        spans = x @ w["span.weight"].T + w["span.bias"]
        readings = []
        for b, s in enumerate(rows):
            begin = 1 + len(q)
            readings.append(Reading(float(answer[b, 0]), spans[b, begin: begin + len(s), 0].copy(),
                                    spans[b, begin: begin + len(s), 1].copy()))
        return readings

    def _attention(self, x: np.ndarray, mask: np.ndarray, layer: int) -> np.ndarray:
        c, w = self.config, self._w
        batch, length, width = x.shape
        head = width // c.heads
        qkv = x @ w[f"layers.{layer}.qkv.weight"].T + w[f"layers.{layer}.qkv.bias"]
        qkv = qkv.reshape(batch, length, 3, c.heads, head).transpose(2, 0, 3, 1, 4)
        scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) / math.sqrt(head)
        scores = np.where(mask[:, None, None, :], scores, -1e9)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        out = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(batch, length, width)
        return out @ w[f"layers.{layer}.out.weight"].T + w[f"layers.{layer}.out.bias"]


def sentence_features(cosines: np.ndarray) -> np.ndarray:
    """The scalar inputs beside the token vectors: the question-sentence cosine, centred and scaled."""
    return ((np.asarray(cosines, dtype=np.float32) - 0.8) * 10.0).reshape(-1, 1)


def load_reader(path: Path = READER_FILE, sha256: str | None = READER_SHA256) -> Reader:
    """Load the reader's weights after checking their sha256 (None: unchecked, for a freshly trained file).

    Raises:
        ModelError: the file is missing, damaged (its sha256 differs) or not a reader's.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"the reader's weights {path} are missing; restore them: {_RESTORE}")
    if sha256 is not None:
        found = sha256_of(path)
        if found != sha256:
            raise ModelError(f"the reader's weights {path} are damaged (sha256 {found[:12]}…, expected "
                             f"{sha256[:12]}…); restore them: {_RESTORE}")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
        config = ReaderConfig(**json.loads(metadata["config"]))
        weights = load_file(str(path))
    except (KeyError, ValueError, TypeError, OSError, SafetensorError) as exc:
        raise ModelError(f"{path} is not a reader's weights ({exc}); restore them: {_RESTORE}") from exc
    return Reader(weights, config, name=f"{path.stem}-{sha256_of(path)[:12]}", encoder=metadata.get("encoder", ""))


def _norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


# What a candidate sentence's score weighs, in this order (see `Scorer`).
SCORER_FEATURES = ("reader", "similarity", "overlap", "expected", "passage", "cross_script", "alignment")


@dataclass(frozen=True)
class Scorer:
    """How the answerer turns a sentence's reader logit and its retrieval evidence into a score, and its thresholds.

    score = sigmoid(bias + sum of weights[f] * feature f), features as `SCORER_FEATURES`; fitted
    (a logistic regression: does the sentence hold the answer?) with `min_support`, `margin` and
    `short_min` by `benchmarks/reader_dev.py --fit --write` on the calibration halves of the dev
    sets, which it names in `fitted_on`.
    """

    weights: tuple[float, ...]
    bias: float
    min_support: float
    margin: float
    short_min: float
    fitted_on: str = ""

    def score(self, features: tuple[float, ...]) -> float:
        z = self.bias + sum(w * f for w, f in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> dict[str, object]:
        return {"features": list(SCORER_FEATURES), "weights": list(self.weights), "bias": self.bias,
                "min_support": self.min_support, "margin": self.margin, "short_min": self.short_min,
                "fitted_on": self.fitted_on}


def load_scorer(path: Path = SCORER_FILE) -> Scorer:
    """The fitted scorer shipped beside the reader.

    Raises:
        ModelError: the file is missing or not a scorer's.
    """
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(found["features"]) != SCORER_FEATURES:
            raise ValueError(f"features {found['features']} are not {list(SCORER_FEATURES)}")
        return Scorer(tuple(float(w) for w in found["weights"]), float(found["bias"]), float(found["min_support"]),
                      float(found["margin"]), float(found["short_min"]), str(found.get("fitted_on", "")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read the answer scorer {path} ({exc}); restore it: git checkout -- qa/reader/scorer.json "
                         "(or refit: python benchmarks/reader_dev.py --fit --write)") from exc
