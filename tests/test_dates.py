"""The date reader on constructed sentences with known publication dates."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from qa.errors import DateError, QAError
from qa.text import dates
from qa.text.dates import (
    CERTAINTIES,
    EXACT,
    RANGE,
    UNRESOLVED,
    WEEKDAY,
    YEAR,
    find_dates,
    find_dates_batch,
    format_date,
    format_range,
    format_time,
    published_date,
)

D = dt.date


def only(text: str, published: str | None):
    found = find_dates(text, published)
    assert len(found) == 1, found
    assert text[found[0].start:found[0].end] == found[0].text
    return found[0]


@pytest.mark.parametrize(
    ("text", "published", "since", "until", "certainty"),
    [
        # weekdays: the nearest before publication, the same day, across a month and a year end
        ("أعلن ترامب الثلاثاء الانسحاب من الاتفاق النووي", "2018-05-09T10:00:00+04:00", D(2018, 5, 8), D(2018, 5, 8), WEEKDAY),
        ("أعلن ترامب، الثلاثاء، الانسحاب", "2018-05-08T20:00:00+00:00", D(2018, 5, 8), D(2018, 5, 8), WEEKDAY),
        ("قال الوزير الثلاثاء إن", "2018-06-01", D(2018, 5, 29), D(2018, 5, 29), WEEKDAY),
        ("وقع الهجوم مساء الأحد", "2018-01-02", D(2017, 12, 31), D(2017, 12, 31), WEEKDAY),
        ("يلتقي الرئيسان يوم الخميس المقبل", "2018-12-29", D(2019, 1, 3), D(2019, 1, 3), WEEKDAY),
        ("وكان ذلك الأحد الماضي", "2018-05-06", D(2018, 4, 29), D(2018, 4, 29), WEEKDAY),
        ("ومن المقرر أن تقام المباراة السبت", "2018-05-09", D(2018, 5, 12), D(2018, 5, 12), WEEKDAY),
        ("سيزور الرئيس باريس الجمعة", "2018-05-09", D(2018, 5, 11), D(2018, 5, 11), WEEKDAY),
        ("قال اليوم الخميس", "2018-07-20", D(2018, 7, 19), D(2018, 7, 19), WEEKDAY),
        ("The president said on Tuesday that", "2018-05-09", D(2018, 5, 8), D(2018, 5, 8), WEEKDAY),
        ("Le ministre a déclaré mardi dernier", "2018-05-09", D(2018, 5, 8), D(2018, 5, 8), WEEKDAY),
        # day words
        ("وقال أمس إن", "2018-03-01", D(2018, 2, 28), D(2018, 2, 28), EXACT),
        ("وقال أول أمس إن", "2018-03-01", D(2018, 2, 27), D(2018, 2, 27), EXACT),
        ("وقال أول من أمس إن", "2018-03-01", D(2018, 2, 27), D(2018, 2, 27), EXACT),
        ("وتنطلق غدا القمة", "2018-12-31", D(2019, 1, 1), D(2019, 1, 1), EXACT),
        ("وتنطلق غداً القمة", "2018-12-31", D(2019, 1, 1), D(2019, 1, 1), EXACT),
        ("وقع الانفجار الليلة الماضية", "2018-05-09", D(2018, 5, 8), D(2018, 5, 8), EXACT),
        ("وصل الوفد صباح اليوم إلى", "2018-05-09", D(2018, 5, 9), D(2018, 5, 9), EXACT),
        ("وقال أمس (الجمعة)", "2018-08-11", D(2018, 8, 10), D(2018, 8, 10), EXACT),
        ("He arrived yesterday", "2018-01-01", D(2017, 12, 31), D(2017, 12, 31), EXACT),
        ("Il est arrivé hier", "2018-01-01", D(2017, 12, 31), D(2017, 12, 31), EXACT),
        # weeks (Monday to Sunday), months, years
        ("وأعلن الأسبوع الماضي", "2018-05-09", D(2018, 4, 30), D(2018, 5, 6), RANGE),
        ("وسيعلن الأسبوع المقبل", "2018-12-27", D(2018, 12, 31), D(2019, 1, 6), RANGE),
        ("وجرت الانتخابات الشهر الماضي", "2018-01-15", D(2017, 12, 1), D(2017, 12, 31), RANGE),
        ("الانتخابات المقررة الشهر المقبل", "2018-12-05", D(2019, 1, 1), D(2019, 1, 31), RANGE),
        ("وقع مطلع الشهر الجاري", "2018-02-14", D(2018, 2, 1), D(2018, 2, 10), RANGE),
        ("وخلال العام الماضي", "2018-07-16", D(2017, 1, 1), D(2017, 12, 31), RANGE),
        ("والعام الماضي", "2018-07-16", D(2017, 1, 1), D(2017, 12, 31), RANGE),
        ("هذا العام", "2018-07-16", D(2018, 1, 1), D(2018, 12, 31), RANGE),
        ("sales fell last month", "2018-03-02", D(2018, 2, 1), D(2018, 2, 28), RANGE),
        # day and month, the year from the publication date; both month-name sets and their pairs
        ("قتل العشرات في 14 مايو/أيار", "2018-05-20", D(2018, 5, 14), D(2018, 5, 14), YEAR),
        ("قتل العشرات في 14 أيار/مايو", "2018-05-20", D(2018, 5, 14), D(2018, 5, 14), YEAR),
        ("قتل العشرات في 14 أيار", "2018-05-20", D(2018, 5, 14), D(2018, 5, 14), YEAR),
        ("تبدأ القمة في 3 يناير", "2017-12-28", D(2018, 1, 3), D(2018, 1, 3), YEAR),
        ("وكان الاجتماع في 28 ديسمبر", "2018-01-02", D(2017, 12, 28), D(2017, 12, 28), YEAR),
        ("ينتهي العقد في 30 يونيو المقبل", "2018-05-07", D(2018, 6, 30), D(2018, 6, 30), YEAR),
        ("بدأت في 30 مارس الماضي", "2018-04-25", D(2018, 3, 30), D(2018, 3, 30), YEAR),
        ("في 28 الشهر الجاري", "2018-06-18", D(2018, 6, 28), D(2018, 6, 28), EXACT),
        # full dates, Arabic-Indic digits, English and French forms
        ("في ١٤ مايو ٢٠١٨", "2018-06-01", D(2018, 5, 14), D(2018, 5, 14), EXACT),
        ("في 6 يونيو 2017", "2018-08-07", D(2017, 6, 6), D(2017, 6, 6), EXACT),
        ("يوم 10 اغسطس/آب 2018", "2018-08-14", D(2018, 8, 10), D(2018, 8, 10), EXACT),
        ("on May 14, 2018", "2018-06-01", D(2018, 5, 14), D(2018, 5, 14), EXACT),
        ("on 14 May 2018", "2018-06-01", D(2018, 5, 14), D(2018, 5, 14), EXACT),
        ("le 14 mai 2018", "2018-06-01", D(2018, 5, 14), D(2018, 5, 14), EXACT),
        ("بتاريخ 14/05/2018", "2018-06-01", D(2018, 5, 14), D(2018, 5, 14), EXACT),
        # months, years and spans
        ("في أغسطس 2017", "2018-04-25", D(2017, 8, 1), D(2017, 8, 31), RANGE),
        ("في مايو عام 2014", "2018-07-19", D(2014, 5, 1), D(2014, 5, 31), RANGE),
        ("منذ عام 2011", "2018-04-24", D(2011, 1, 1), D(2011, 12, 31), RANGE),
        ("الربع الأخير من عام 2016", "2018-03-13", D(2016, 10, 1), D(2016, 12, 31), RANGE),
        ("بين عامي 2013 و2015", "2018-04-29", D(2013, 1, 1), D(2015, 12, 31), RANGE),
        ("من 14 يونيو إلى 15 يوليو", "2018-05-16", D(2018, 6, 14), D(2018, 7, 15), RANGE),
        ("بين 1 و15 مايو 2018", "2018-06-01", D(2018, 5, 1), D(2018, 5, 15), RANGE),
    ],
)
def test_resolves_against_publication(text, published, since, until, certainty):
    found = only(text, published)
    assert not found.text.startswith(("والع", "والا"))
    assert (found.since, found.until, found.certainty) == (since, until, certainty)


@pytest.mark.parametrize(
    ("published", "day"),
    [
        # the newsroom's own day, in the zone the time is written in, not UTC's
        ("2018-05-08T23:30:00-05:00", D(2018, 5, 8)),
        ("2018-05-09T01:00:00+04:00", D(2018, 5, 9)),
        ("2018-05-09T01:00:00Z", D(2018, 5, 9)),
        ("Tue, 08 May 2018 13:50:28 GMT", D(2018, 5, 8)),
        ("2018-05-08", D(2018, 5, 8)),
        (None, None),
        ("  ", None),
    ],
)
def test_published_date_keeps_the_written_zone(published, day):
    assert published_date(published) == day


def test_time_zone_moves_yesterday():
    assert only("وقال أمس", "2018-05-08T23:30:00-05:00").since == D(2018, 5, 7)
    assert only("وقال أمس", "2018-05-09T01:00:00+04:00").since == D(2018, 5, 8)


def test_undated_article_keeps_its_relative_words():
    found = find_dates("أعلن ترامب الثلاثاء، أي قبل 14 مايو، الانسحاب من اتفاق عام 2015 وقال أمس", None)
    by_text = {f.text: f for f in found}
    assert by_text["الثلاثاء"].certainty == UNRESOLVED and by_text["الثلاثاء"].since is None
    assert by_text["14 مايو"].certainty == UNRESOLVED and by_text["14 مايو"].relative
    assert by_text["أمس"].since is None
    # what is written in full needs no publication date
    assert by_text["عام 2015"].since == D(2015, 1, 1) and not by_text["عام 2015"].relative
    full = only("وقع في 6 يونيو 2017", None)
    assert full.since == D(2017, 6, 6) and not full.relative


@pytest.mark.parametrize("published", ["yesterday", "2018-13-45", "08/05/2018", "2018-05-08T25:00:00"])
def test_unparsable_published_is_an_error(published):
    with pytest.raises(DateError, match="is not a date") as caught:
        find_dates("وقال أمس", published)
    assert isinstance(caught.value, QAError)
    assert repr(published) in str(caught.value)


def test_batch_lengths_must_pair():
    with pytest.raises(DateError, match="2 texts and 1"):
        find_dates_batch(["أمس", "اليوم"], ["2018-05-08"])


def test_batch_matches_single_calls():
    texts = ["وقال أمس", "في 14 مايو", "لا تاريخ هنا"]
    published = ["2018-05-08", None, "2018-05-08"]
    assert find_dates_batch(texts, published) == [find_dates(t, p) for t, p in zip(texts, published)]
    assert find_dates_batch(texts, published)[2] == []


@pytest.mark.parametrize(
    "text",
    ["المنتخب في كأس العالم 2018 لكرة القدم", "ضمن رؤية المملكة 2030", "قتل 2000 شخص", "قرار مجلس الأمن ٢٢١٦",
     "في اليوم التالي عادوا", "وفي نفس اليوم", "لامس الذهب أعلى مستوى", "وفي موسم 2016-2017",
     "كأس الاتحاد الآسيوي لعام 2018", "للموسم الرياضي 2017-2018", "دورة العام 2017 من مهرجان كان"],
)
def test_not_time_expressions(text):
    assert find_dates(text, "2018-05-08") == []


def test_spans_are_spans_of_the_text():
    text = "وقال الوزير، الثلاثاء، إن القمة ستعقد في ١٤ أيار/مايو ٢٠١٨ بعد أن تأجلت الأسبوع الماضي."
    found = find_dates(text, "2018-05-09")
    assert [f.text for f in found] == [text[f.start:f.end] for f in found]
    assert len(found) == 3
    assert found[0].day == D(2018, 5, 8) and found[2].day is None


def test_hand_dated_ant_sample_meets_its_targets():
    data = json.loads((Path(__file__).parent.parent / "benchmarks" / "data" / "dates-labelled.json").read_text(encoding="utf-8"))
    assert len(data["items"]) == 300
    for half in ("tune", "heldout"):
        items = [i for i in data["items"] if i["split"] == half]
        readings = []
        for item in items:
            hit = next((f for f in find_dates(item["sentence"], item["published"])
                        if f.start < item["trigger_end"] and item["trigger_start"] < f.end and f.since), None)
            gold = (item["since"], item["until"])
            readings.append(None if hit is None else (hit.since.isoformat(), hit.until.isoformat()) == gold)
        resolved = [r for r in readings if r is not None]
        assert sum(resolved) / len(resolved) >= 0.95, half
        assert len(resolved) / len(items) >= 0.85, half


def test_formats_for_people():
    tuesday = only("أعلن ترامب الثلاثاء", "2018-05-09")
    assert format_time(tuesday, "ar") == "الثلاثاء 8 مايو 2018"
    assert format_time(tuesday, "en") == "Tuesday 8 May 2018"
    assert format_time(tuesday, "fr", weekday=False) == "8 mai 2018"
    assert format_time(only("الأسبوع الماضي", "2018-05-09"), "en") == "30 April – 6 May 2018"
    assert format_time(only("وقال أمس", None), "ar") is None
    assert format_date(D(2018, 5, 15), "ar") == "15 مايو 2018"
    assert format_range(D(2018, 5, 8), D(2018, 5, 15), "ar") == "8–15 مايو 2018"
    assert format_range(D(2013, 1, 1), D(2015, 12, 31), "en") == "2013–2015"
    assert format_range(D(2017, 12, 28), D(2018, 1, 3), "fr") == "28 décembre 2017 – 3 janvier 2018"
    with pytest.raises(DateError, match="valid: ar, en, fr"):
        format_date(D(2018, 5, 15), "de")
    with pytest.raises(DateError, match="before it starts"):
        format_range(D(2018, 5, 15), D(2018, 5, 8), "en")


ANT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "news" / "ant-multisource.jsonl.gz"


@pytest.mark.skipif(not ANT.exists(), reason="needs ../shared/data/news/ant-multisource.jsonl.gz")
def test_real_ant_articles_of_the_iran_deal_withdrawal(monkeypatch):
    # Trump announced the withdrawal on Tuesday 8 May 2018; the articles say «الثلاثاء».
    wanted = {"CN-internationalNews-327-20180508", "CN-middleEast-844-20180508", "BB-middleEast-467-20180508",
              "BB-internationalNews-477-20180508", "CN-economy-103-20180508"}
    articles = {}
    with gzip.open(ANT, "rt", encoding="utf-8") as lines:
        for line in lines:
            if '"2018-05-08' in line:
                row = json.loads(line)
                if row["id"] in wanted:
                    articles[row["id"]] = row
    assert set(articles) == wanted
    for row in articles.values():
        first = row["text"].split("\n")[0]
        tuesdays = [f for f in find_dates(first, row["published"]) if "الثلاثاء" in f.text]
        assert tuesdays and all(f.since == D(2018, 5, 8) for f in tuesdays), (row["id"], tuesdays)
    # the whole body of one article: every expression is a span of it and resolves or says why not
    body = articles["CN-middleEast-844-20180508"]["text"]
    published = articles["CN-middleEast-844-20180508"]["published"]
    windowed = find_dates(body, published)
    for found in windowed:
        assert body[found.start:found.end] == found.text and found.certainty in CERTAINTIES
    # the patterns run only near digits and time words; over the whole text they find the same
    monkeypatch.setattr(dates, "_windows", lambda folded: [(0, len(folded))])
    assert find_dates(body, published) == windowed


def test_a_past_verb_cut_at_the_clause_window_is_not_read_as_a_future_one():
    # The clause before a weekday is read up to 90 characters back: a window starting inside «استدعت»
    # (summoned) once saw «ستدعت», a future verb's shape, and sent «الأحد» to the coming Sunday.
    filler = " ".join(["السفير"] * 12)
    text = f"وقالت إن الخارجية استدعت {filler} الأحد"
    start = text.index("الأحد")
    assert text[start - 90:start].startswith("ستدعت")
    found = only(text, "2018-06-05")  # a Tuesday
    assert found.text == "الأحد" and found.since == D(2018, 6, 3)
