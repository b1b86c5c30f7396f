"""Figures that disagree: the number each outlet gives for a how-many question, read from its best sentence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.normalize import normalize
from qa.short import short_phrase
from qa.text import question_type
from qa.text.lexicon import NUMBER

__all__ = ["Reading", "disagree", "parse_number", "read_figure"]


def _values(pairs: str) -> dict[str, float]:
    words = pairs.split()
    return {normalize(word): float(value) for word, value in zip(words[::2], words[1::2])}


# Cardinals in words (normalized), and the scales that multiply the number before them.
_CARDINALS = _values(
    "واحد 1 واحدة 1 أحد 1 إحدى 1 اثنان 2 اثنين 2 اثنا 2 اثني 2 اثنتان 2 اثنتين 2 ثلاث 3 ثلاثة 3 أربع 4 أربعة 4 خمس 5 خمسة 5 ست 6 ستة 6 "
    "سبع 7 سبعة 7 ثمان 8 ثماني 8 ثمانية 8 تسع 9 تسعة 9 عشر 10 عشرة 10 عشرون 20 عشرين 20 ثلاثون 30 ثلاثين 30 "
    "أربعون 40 أربعين 40 خمسون 50 خمسين 50 ستون 60 ستين 60 سبعون 70 سبعين 70 ثمانون 80 ثمانين 80 تسعون 90 تسعين 90 "
    "مئة 100 مائة 100 مئتين 200 مائتين 200 مائتان 200 ألف 1000 ألفين 2000 ألفا 1000 "
    "one 1 two 2 three 3 four 4 five 5 six 6 seven 7 eight 8 nine 9 ten 10 eleven 11 twelve 12 twenty 20 thirty 30 "
    "forty 40 fifty 50 sixty 60 seventy 70 eighty 80 ninety 90 hundred 100 "
    "un 1 une 1 deux 2 trois 3 quatre 4 cinq 5 sept 7 huit 8 neuf 9 dix 10 onze 11 douze 12 vingt 20 trente 30 "
    "quarante 40 cinquante 50 soixante 60 cent 100"
)
_SCALE_VALUES = _values(
    "ألف 1e3 آلاف 1e3 ألفا 1e3 مليون 1e6 ملايين 1e6 مليار 1e9 مليارات 1e9 thousand 1e3 thousands 1e3 million 1e6 "
    "millions 1e6 billion 1e9 billions 1e9 mille 1e3 milliard 1e9 milliards 1e9"
)
_ARABIC = re.compile("[\u0621-\u064a]")
_PERCENT = re.compile("[%٪]|" + "|".join(normalize(word) for word in ("بالمئة", "بالمائة", "المئة", "المائة", "percent", "pour cent")))


@dataclass(frozen=True)
class Reading:
    """A figure read from a sentence: `sentence[start:end] == value`, worth `number` `unit`."""

    value: str
    number: float
    unit: str
    start: int
    end: int


def parse_number(phrase: str) -> tuple[float, str] | None:
    """The value of a number phrase and its unit (`"20 مليون دولار"` -> `(2e7, "دولار")`), or None when it holds no number.

    Digits are read with `,` as a thousands separator when three digits follow it
    (`1,000`), else as a decimal mark (`56,2`); scale words multiply.
    """
    words = normalize(phrase).split()
    number: float | None = None
    rest = []
    for word in words:
        bare = word[1:] if word[:1] in "وب" and (word[1:] in _CARDINALS or word[1:] in _SCALE_VALUES) else word
        if NUMBER.fullmatch(word):
            number = (number or 0.0) + _digits(word)
        elif bare in _SCALE_VALUES:
            number = (number or 1.0) * _SCALE_VALUES[bare]
        elif bare in _CARDINALS:
            number = (number or 0.0) + _CARDINALS[bare]
        elif not NUMBER.match(word):
            rest.append(word)
    if number is None:
        return None
    unit = " ".join(rest)
    if _PERCENT.search(phrase) or _PERCENT.search(unit):
        unit = "%"
    return number, unit


def _digits(text: str) -> float:
    text = text.replace("٬", ",").replace("٫", ".")
    groups = text.split(",")
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
        text = "".join(groups)
    else:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return float(re.sub(r"[^\d.]", "", text) or 0)


def read_figure(question: str, sentence: str) -> Reading | None:
    """The figure `sentence` gives in answer to a how-many `question`, or None (another question type, no confident number)."""
    if question_type(question) != "number":
        return None
    phrase = short_phrase(question, sentence)
    if phrase is None:
        return None
    value = sentence[phrase.start:phrase.end]
    parsed = parse_number(value)
    if parsed is None:
        return None
    return Reading(value, parsed[0], parsed[1], phrase.start, phrase.end)


def disagree(readings: Sequence[Reading]) -> bool:
    """Whether the readings (one per outlet) give different numbers of the same thing.

    Two readings with units that differ (dollars and euros, percent and a count)
    measure different things and are not compared; a missing unit agrees with any.
    """
    if len(readings) < 2:
        return False
    units = {r.unit for r in readings if r.unit}
    if len({_unit_key(u) for u in units}) > 1:
        return False
    return len({r.number for r in readings}) > 1


def _unit_key(unit: str) -> str:
    """What one unit's forms share: `شخصا`/`أشخاص`, `قتيلا`/`قتلى`, `dollar`/`dollars` (the article, endings and long vowels dropped)."""
    words = normalize(unit).split()
    last = words[-1] if words else unit
    if last == "%" or not _ARABIC.match(last):
        return last.rstrip("s")
    if last.startswith("ال") and len(last) > 4:
        last = last[2:]
    for ending in ("ات", "ون", "ين", "ا"):
        if last.endswith(ending) and len(last) - len(ending) >= 3:
            last = last[: -len(ending)]
            break
    return "".join(letter for letter in last if letter not in "اويى")


def site_readings(question: str, sentences: Sequence[tuple[str | None, str]]) -> list[int]:
    """Of `(site, sentence)` pairs, best first, the indexes of each site's first sentence that gives a figure."""
    seen: set[str] = set()
    chosen = []
    for index, (site, sentence) in enumerate(sentences):
        if site is None or site.casefold() in seen:
            continue
        if read_figure(question, sentence) is not None:
            seen.add(site.casefold())
            chosen.append(index)
    return chosen
