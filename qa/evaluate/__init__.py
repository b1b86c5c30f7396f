"""`qa eval`: retrieval and answer quality on SQuAD-format data, through the public API only.

`squad` reads the data, `retrieval` builds the index and measures retrieval, `grading` scores an answer
against gold ones, `answers` measures answers and fits the abstention threshold.
"""

from __future__ import annotations

from qa.evaluate.answers import (
    AbstentionCalibration,
    AnswerEvalResult,
    calibrate_abstention,
    evaluate_answers,
    run_answer_eval,
)
from qa.evaluate.grading import (
    SPLITS,
    answer_contains,
    answer_tokens,
    exact_match,
    split_of,
    token_f1,
)
from qa.evaluate.retrieval import (
    EvalResult,
    build_eval_index,
    evaluate,
    rank_of,
    run_eval,
)
from qa.evaluate.squad import Question, load_squad, squad_problems

__all__ = [
    "SPLITS",
    "AbstentionCalibration",
    "AnswerEvalResult",
    "EvalResult",
    "Question",
    "answer_contains",
    "answer_tokens",
    "build_eval_index",
    "calibrate_abstention",
    "evaluate",
    "evaluate_answers",
    "exact_match",
    "load_squad",
    "rank_of",
    "run_answer_eval",
    "run_eval",
    "split_of",
    "squad_problems",
    "token_f1",
]
