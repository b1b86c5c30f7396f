"""`qa eval` end to end on a small SQuAD-format file cut from XQuAD-ar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.errors import InputError
from qa.evaluate import answer_contains, load_squad, split_of


@pytest.fixture(scope="module")
def small_squad(tmp_path_factory: pytest.TempPathFactory, xquad: Path) -> Path:
    data = json.loads(xquad.read_text(encoding="utf-8"))
    docs = [{**doc, "paragraphs": doc["paragraphs"][:2]} for doc in data["data"][:3]]
    path = tmp_path_factory.mktemp("squad") / "small.json"
    path.write_text(json.dumps({"data": docs}, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_squad_makes_one_article_per_paragraph(small_squad: Path) -> None:
    articles, questions = load_squad(small_squad)
    assert len(articles) == 6
    assert {q.article_id for q in questions} == {a.id for a in articles}
    assert all(q.answers for q in questions)


def test_a_file_that_is_not_squad_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="not a SQuAD-format JSON file"):
        load_squad(bad)


@pytest.mark.slow
def test_eval_prints_every_mode_and_keeps_its_index(small_squad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keep = tmp_path / "kept"
    assert main(["eval", str(small_squad), "--json", "--keep", str(keep)]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["mode"] for r in results] == ["hybrid", "dense", "lexical"]
    for result in results:
        assert result["questions"] == len(load_squad(small_squad)[1])
        assert 0.5 <= result["recall_at_1"] <= result["recall_at_5"] <= result["recall_at_10"] <= 1
        assert result["recall_at_1"] <= result["mrr_at_10"] <= 1
        assert 0 < result["latency_p50_ms"] <= result["latency_p95_ms"]
    assert (keep / "vectors" / "CURRENT").is_file()
    # A rerun over the kept index reuses every embedding and gives the same figures.
    assert main(["eval", str(small_squad), "--json", "--keep", str(keep), "--mode", "hybrid"]) == 0
    [again] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert again["mrr_at_10"] == pytest.approx(results[0]["mrr_at_10"], abs=0.02)


@pytest.mark.parametrize(
    ("answer", "gold", "found"),
    [
        ("قُتل 130 شخصاً في الهجمات [1]", "130 شخصا", True),
        ("وصل إلى الإمارات.", "الامارات", True),
        ("لوك كوتشلي تصدر الفريق", "لوك كوتشلي.", True),
        ("يوم الخميس", "الجمعة", False),
        ("نص", "", False),
    ],
)
def test_answer_contains_compares_normalized_text(answer: str, gold: str, found: bool) -> None:
    assert answer_contains(answer, gold) is found


def test_split_of_is_a_stable_half() -> None:
    ids = [f"squad:doc:{i}" for i in range(200)]
    halves = [split_of(i) for i in ids]
    assert set(halves) == {"calibration", "held-out"} and 60 < halves.count("calibration") < 140
    assert halves == [split_of(i) for i in ids]


@pytest.mark.slow
def test_eval_answers_grades_a_small_squad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paragraphs = [
        ("يقصد الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس للقاء بوتين. وقتل 130 شخصا في هجمات باريس.",
         [("متى يزور أولوند موسكو؟", "يوم الخميس"), ("كم شخصا قتل في هجمات باريس؟", "130")]),
        ("فاز نادي ليفربول على روما بخمسة أهداف مقابل هدفين في نصف نهائي دوري الأبطال.",
         [("على من فاز ليفربول؟", "روما")]),
    ]
    data = {"data": [{"title": f"doc{i}", "paragraphs": [{"context": context, "qas": [
        {"id": f"{i}-{j}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]} for j, (q, a) in enumerate(qas)
    ]}]} for i, (context, qas) in enumerate(paragraphs)]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["eval", str(path), "--answers", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["split"] == "all" and rows[0]["questions"] == 3 and {r["split"] for r in rows} <= {"all", "calibration", "held-out"}
    assert rows[0]["answer_hit"] == 1.0 and rows[0]["spans_exact"] == 1.0 and rows[0]["abstention_rate"] == 0.0
