"""`qa eval` through its entry point on SQuAD files as public sets write them: titles repeated, paragraphs repeated, items wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.evaluate import load_squad

MOSCOW = "يقصد الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس للقاء بوتين. وقتل 130 شخصا في هجمات باريس."
LIVERPOOL = "فاز نادي ليفربول على روما بخمسة أهداف مقابل هدفين في نصف نهائي دوري الأبطال."
WEATHER = "تشهد البلاد موجة حر شديدة هذا الأسبوع وتتجاوز درجات الحرارة خمسا وأربعين درجة في الجنوب."


def article(title: str, *paragraphs: tuple[str, str, str]) -> dict[str, object]:
    return {"title": title, "paragraphs": [
        {"context": context, "qas": [{"id": question, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}]}
        for context, question, answer in paragraphs
    ]}


@pytest.fixture(scope="module")
def public_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three articles under one title; the third repeats the first's paragraph, with a question of its own."""
    data = {"version": "1.1", "data": [
        article("أخبار", (MOSCOW, "متى يزور أولوند موسكو؟", "يوم الخميس")),
        article("أخبار", (LIVERPOOL, "على من فاز ليفربول في نصف النهائي؟", "روما"),
                (WEATHER, "كم تتجاوز درجات الحرارة في الجنوب؟", "خمسا وأربعين درجة")),
        article("أخبار", (MOSCOW, "كم شخصا قتل في هجمات باريس؟", "130")),
    ]}
    path = tmp_path_factory.mktemp("public") / "set.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_eval_reads_repeated_titles_and_counts_a_repeated_paragraph_found_as_a_copy(
    public_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    articles, _ = load_squad(public_set)
    assert [a.id for a in articles] == ["squad:أخبار:0", "squad:أخبار (2):0", "squad:أخبار (2):1", "squad:أخبار (3):0"]
    keep = str(tmp_path / "kept")
    assert main(["eval", str(public_set), "--json", "--keep", keep, "--mode", "hybrid", "--mode", "dense"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["mode"] for r in rows] == ["hybrid", "dense"]
    for row in rows:
        # The two copies of the Moscow paragraph are one hit: one of its two questions finds its own copy only among the carriers.
        assert row["questions"] == 4 and row["recall_at_1"] == 1.0 and row["found_as_copy"] == 1

    assert main(["eval", str(public_set), "--keep", keep, "--mode", "hybrid"]) == 0
    out = capsys.readouterr().out
    assert "hybrid: 1 question(s) found their paragraph as a copy" in out

    assert main(["eval", str(public_set), "--keep", keep, "--answers", "--json"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert answers[0]["split"] == "all" and answers[0]["answer_hit"] == 1.0
    # Every question here asks when, how many or whom: all are factoid.
    assert answers[0]["factoid_questions"] == 4 and 0 <= answers[0]["short_shown"] <= 1 and answers[0]["short_shown_other"] == 0
    assert {"short_exact", "short_f1", "short_right"} <= answers[0].keys()


@pytest.mark.parametrize("answers", [False, True])
def test_a_wrong_item_stops_eval_before_any_model_loads(
    answers: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the file was checked")

    monkeypatch.setattr("qa.embed.Embedder.from_settings", no_model)
    monkeypatch.setattr("qa.embed.Embedder.__init__", no_model)
    data = {"data": [article("أخبار", (MOSCOW, "متى يزور أولوند موسكو؟", "يوم الخميس"))]}
    data["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 500  # type: ignore[index]
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["eval", str(path), *(["--answers"] if answers else [])]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    expected = (
        f"qa: error: {path}: data[0].paragraphs[0].qas[0].answers[0]: answer_start 500 is out of range: "
        f"the text (10 characters) would end at 510, past the end of the context ({len(MOSCOW)} characters)"
    )
    assert captured.err.splitlines() == [expected]
