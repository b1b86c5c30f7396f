"""Probe for issue 21: does the fine-tuned two-tower scorer (`reader_tower_probe.py --save DIR`) help the answerer?

    python benchmarks/reader_tower_pipeline.py ../shared/data/xquad-ar/xquad.ar.json --tuned DIR

Indexes the file's paragraphs as `qa eval` does, retrieves the top 5 hits of every question and takes the
answerer's own candidate sentences (`ExtractiveAnswerer.rank_sentences`: its prefilter, overlap, expected type).
Each candidate gets its base cosine (the shipped engine) and its cosine under the fine-tuned model (int8 too).
The weights of `a * base + b * tuned + overlap, expected and passage-cosine terms` are fitted on the calibration
half (`qa.evaluate.split_of`) by a grid and reported on the held-out half: the share of questions whose best
scored sentence holds a gold answer ("first sentence right", no abstention), beside the shipped hand weights.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.embed import Embedder  # noqa: E402
from qa.evaluate.grading import answer_contains, split_of  # noqa: E402
from qa.evaluate.retrieval import _indexed  # noqa: E402
from qa.evaluate.squad import load_squad  # noqa: E402
from qa.extractive import EXPECTED_WEIGHT, OVERLAP_WEIGHT, ExtractiveAnswerer  # noqa: E402

# Columns of a question's candidate matrix.
BASE, TUNED, OVERLAP, EXPECTED, PASSAGE, GOLD = range(6)


@dataclass(frozen=True)
class Asked:
    split: str
    candidates: np.ndarray  # (sentences, 6)


def collect(data: Path, tuned: Embedder) -> list[Asked]:
    articles, questions = load_squad(data)
    asked = []
    with _indexed(articles, distractors=None, limit=5000, settings=None, workdir=None, keep=False, progress=None) as retriever:
        answerer = ExtractiveAnswerer(retriever.embedder, min_support=-10)
        for start in range(0, len(questions), 32):
            batch = questions[start:start + 32]
            for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=5)):
                found = answerer.rank_sentences(question.text, hits)
                rows = np.zeros((len(found), 6))
                if found:
                    cosines = tuned.encode_passages([c.text for c in found]) @ tuned.encode_queries([question.text])[0]
                    for row, (candidate, cosine) in enumerate(zip(found, cosines)):
                        gold = any(answer_contains(candidate.text, answer) for answer in question.answers)
                        rows[row] = (candidate.similarity, cosine, candidate.overlap, candidate.expected,
                                     candidate.hit.similarity, gold)
                asked.append(Asked(split_of(question.article_id), rows))
    return asked


def first_right(asked: list[Asked], weights: tuple[float, ...], split: str) -> float:
    chosen = [a for a in asked if split in ("all", a.split)]
    right = 0.0
    for a in chosen:
        if len(a.candidates):
            scores = a.candidates[:, :GOLD] @ np.asarray(weights)
            right += a.candidates[int(np.argmax(scores)), GOLD]
    return right / len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a SQuAD-format file")
    parser.add_argument("--tuned", type=Path, required=True, help="the folder reader_tower_probe.py --save wrote")
    args = parser.parse_args()
    asked = collect(args.data, Embedder(str(args.tuned), precision="int8"))
    print(f"{len(asked)} questions; a gold sentence among the candidates for "
          f"{np.mean([a.candidates[:, GOLD].any() for a in asked if len(a.candidates)]):.3f}")
    shipped = (1.0, 0.0, OVERLAP_WEIGHT, EXPECTED_WEIGHT, 0.0)
    print(f"shipped hand weights {shipped}: calibration {first_right(asked, shipped, 'calibration'):.3f}, "
          f"held-out {first_right(asked, shipped, 'held-out'):.3f}, all {first_right(asked, shipped, 'all'):.3f}")
    grid = itertools.product([0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2], [0, 0.03, 0.06, 0.1, 0.2], [0, 0.5, 1.0])
    terms = list(grid)
    for name, mixes in (("base cosine", [(1.0, 0.0)]), ("tuned cosine", [(0.0, 1.0)]),
                        ("base + tuned", [(1 - t, t) for t in (0.25, 0.5, 0.75)])):
        alone = max(first_right(asked, (a, b, 0, 0, 0), "held-out") for a, b in mixes)
        fitted = max(((first_right(asked, (a, b, *rest), "calibration"), (a, b, *rest)) for a, b in mixes for rest in terms))
        weights = fitted[1]
        print(f"{name}: cosine alone held-out {alone:.3f}; fitted on calibration {fitted[0]:.3f} with {weights} "
              f"-> held-out {first_right(asked, weights, 'held-out'):.3f}, all {first_right(asked, weights, 'all'):.3f}")


if __name__ == "__main__":
    main()
