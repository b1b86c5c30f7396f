"""Time in questions: date filters, their labels, the latest-state and timeline flags, bad anchors."""

from __future__ import annotations

import datetime as dt

import pytest

from qa.errors import DateError, QAError
from qa.text.when import QuestionTime, newest_day, question_time, question_times, reference_date, topic

D = dt.date
NOW = "2018-05-15"


@pytest.mark.parametrize(
    ("question", "since", "until", "label"),
    [
        ("كم عدد الفلسطينيين الذين قتلوا في غزة يوم 14 مايو؟", D(2018, 5, 14), D(2018, 5, 14), "مقالات 14 مايو 2018"),
        ("ماذا حدث في 14 أيار؟", D(2018, 5, 14), D(2018, 5, 14), "مقالات 14 مايو 2018"),
        ("ماذا حدث خلال مايو 2018؟", D(2018, 5, 1), D(2018, 5, 31), "مقالات مايو 2018"),
        ("ما الذي جرى بين 1 و15 مايو؟", D(2018, 5, 1), D(2018, 5, 15), "مقالات 1–15 مايو 2018"),
        ("What happened in May 2018?", D(2018, 5, 1), D(2018, 5, 31), "articles May 2018"),
        ("Que s'est-il passé en mai 2018 ?", D(2018, 5, 1), D(2018, 5, 31), "articles mai 2018"),
        ("ماذا قال ترامب أمس؟", D(2018, 5, 14), D(2018, 5, 14), "مقالات 14 مايو 2018"),
        ("ماذا حدث الأسبوع الماضي في غزة؟", D(2018, 5, 8), D(2018, 5, 15), "مقالات 8–15 مايو 2018"),
        ("What happened in Gaza last week?", D(2018, 5, 8), D(2018, 5, 15), "articles 8–15 May 2018"),
        ("ماذا حدث الشهر الماضي؟", D(2018, 4, 1), D(2018, 4, 30), "مقالات أبريل 2018"),
        ("ماذا قال الوزير الخميس؟", D(2018, 5, 10), D(2018, 5, 10), "مقالات 10 مايو 2018"),
        ("ماذا حدث منذ 14 مايو؟", D(2018, 5, 14), D(2018, 5, 15), "مقالات 14–15 مايو 2018"),
        ("ماذا حدث قبل 2017؟", None, D(2016, 12, 31), "مقالات حتى 31 ديسمبر 2016"),
        ("أخبار آخر 3 أيام", D(2018, 5, 12), D(2018, 5, 15), "مقالات 12–15 مايو 2018"),
        ("news from the past 7 days", D(2018, 5, 8), D(2018, 5, 15), "articles 8–15 May 2018"),
    ],
)
def test_dates_in_questions(question, since, until, label):
    found = question_time(question, NOW)
    assert (found.since, found.until, found.label) == (since, until, label)
    assert found.filtered and found.words
    assert all(word in question for word in found.words)


def test_a_day_without_year_in_the_archive_is_the_past_one():
    # asked on 10 January: "28 December" is last December's, "Tuesday" the last Tuesday
    assert question_time("ماذا حدث في 28 ديسمبر؟", "2018-01-10").since == D(2017, 12, 28)
    assert question_time("ماذا قال الثلاثاء؟", "2018-01-01").since == D(2017, 12, 26)


def test_no_time_words():
    found = question_time("متى أعلن ترامب الانسحاب من الاتفاق النووي مع إيران؟", NOW)
    assert found == QuestionTime(None, None, (), None, False, False, D(2018, 5, 15), "ar")
    assert not found.filtered


@pytest.mark.parametrize(
    ("question", "latest", "timeline"),
    [
        ("ما آخر التطورات في الانتخابات اللبنانية؟", True, False),
        ("ما أحدث الأرقام عن ضحايا غزة؟", True, False),
        ("من يقود المنتخب حاليا؟", True, False),
        ("كم عدد القتلى الآن؟", True, False),
        ("ما الوضع الحالي في درعا؟", True, False),
        ("كم بلغ التضخم الشهر الحالي؟", False, False),
        ("What is the latest on the Iran deal?", True, False),
        ("Who is the current prime minister of Iraq?", True, False),
        ("Quelles sont les dernières nouvelles de Gaza ?", True, False),
        ("ما تطورات الأزمة الخليجية؟", False, True),
        ("ماذا حدث في البصرة؟", False, True),
        ("ما قصة الاتفاق النووي مع إيران؟", False, True),
        ("Give me a timeline of the Iran deal", False, True),
        ("Chronologie de la crise au Venezuela", False, True),
        ("متى أعلن ترامب الانسحاب؟", False, False),
        ("ماذا حدث في آخر 3 أيام؟", False, True),
    ],
)
def test_latest_and_timeline_flags(question, latest, timeline):
    found = question_time(question, NOW)
    assert (found.latest, found.timeline) == (latest, timeline)


@pytest.mark.parametrize(
    "question",
    ["ماذا حدث بين 15 و1 مايو؟", "ماذا حدث بين 2015 و2013؟", "What happened between 20 and 3 May?", "ماذا حدث في 31 فبراير؟"],
)
def test_impossible_dates_are_errors(question):
    with pytest.raises(DateError, match="cannot be") as caught:
        question_time(question, NOW)
    assert isinstance(caught.value, QAError)


@pytest.mark.parametrize(
    "question",
    ["هل انخفض التضخم من 15 إلى 10 بالمئة؟", "هل تراجع عدد السكان من 2000 إلى 1900 نسمة؟", "Did unemployment fall from 12 to 9 percent?"],
)
def test_numbers_that_are_not_dates_are_not_errors(question):
    assert not question_time(question, NOW).filtered


@pytest.mark.parametrize("now", ["yesterday", "2018-15-01", "", None, 20180515])
def test_malformed_now(now):
    with pytest.raises(DateError, match="is not a date"):
        question_time("ماذا حدث أمس؟", now)


def test_future_anchor():
    with pytest.raises(DateError, match="in the future"):
        question_time("ماذا حدث أمس؟", "2018-05-16", today=D(2018, 5, 15))
    assert reference_date("2018-05-15T23:00:00-05:00", today=D(2018, 5, 15)) == D(2018, 5, 15)
    assert reference_date(dt.datetime(2018, 5, 15, 9), today=D(2018, 5, 15)) == D(2018, 5, 15)


def test_label_language_and_batch():
    found = question_times(["ماذا حدث أمس؟", "What happened yesterday?"], NOW, language="fr")
    assert [f.label for f in found] == ["articles 14 mai 2018", "articles 14 mai 2018"]
    with pytest.raises(DateError, match="valid: ar, en, fr"):
        question_times(["أمس"], NOW, language="de")


def test_newest_day_is_the_default_reference():
    assert newest_day(["2018-05-08T10:00:00+00:00", None, "2018-05-20", ""]) == D(2018, 5, 20)
    assert newest_day([None, ""]) is None
    with pytest.raises(DateError, match="'soon' is not a date"):
        newest_day(["2018-05-08", "soon"])


@pytest.mark.parametrize(
    ("question", "story"),
    [
        ("ما آخر الأخبار عن معركة الحديدة؟", "ما معركة الحديدة؟"),
        ("ما أحدث التطورات في الانتخابات اللبنانية؟", "ما الانتخابات اللبنانية؟"),
        ("ما الوضع الحالي في درعا؟", "ما الوضع في درعا؟"),
        ("من رئيس وزراء الأردن حاليا؟", "من رئيس وزراء الأردن؟"),
        ("Who is Spain's prime minister now?", "Who is Spain's prime minister?"),
        ("What is the latest news on the Lifeline ship?", "What is the the Lifeline ship?"),
        ("Quelles sont les dernières nouvelles du navire Lifeline ?", "Quelles sont les navire Lifeline?"),
        # Timeline cues too.
        ("ما تطورات معركة مطار الحديدة؟", "ما معركة مطار الحديدة؟"),
        ("Give me a timeline of Spain's change of government", "Spain's change of government"),
        ("Chronologie de la crise du navire Lifeline", "crise du navire Lifeline"),
        # "الشهر الحالي" is a time, not a cue; a question that is only cues is kept whole.
        ("من فاز في انتخابات الشهر الحالي؟", "من فاز في انتخابات الشهر الحالي؟"),
        ("ما آخر الأخبار؟", "ما آخر الأخبار؟"),
        ("ماذا حدث؟", "ماذا حدث؟"),
    ],
)
def test_latest_and_timeline_questions_are_searched_by_their_story(question, story):
    assert topic(question) == story
