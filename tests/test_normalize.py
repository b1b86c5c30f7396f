from __future__ import annotations

import pytest

from qa.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مَدْرَسَةٌ", "مدرسه"),  # tashkeel removed, ta marbuta -> ha
        ("شَدَّة", "شده"),  # shadda
        ("العـــربيـة", "العربيه"),  # tatweel
        ("أحمد", "احمد"),
        ("إبراهيم", "ابراهيم"),
        ("آمال", "امال"),
        ("ٱلله", "الله"),  # alef wasla
        ("مؤتمر", "موتمر"),  # waw hamza
        ("رئيس", "رييس"),  # ya hamza
        ("مستشفى", "مستشفي"),  # alef maqsura -> ya
        ("١٣٠ شخصا", "130 شخصا"),  # Arabic-Indic digits
        ("۱۲۳۴", "1234"),  # Persian digits
        ("ﻻ", "لا"),  # presentation form through NFKC
        ("ﷲ", "الله"),  # ligature through NFKC
        ("Ｐａｒｉｓ", "paris"),  # full-width Latin through NFKC, case folded
        ("Hollande à Moscou", "hollande à moscou"),
        ("", ""),
    ],
)
def test_normalize_case_by_case(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_is_idempotent() -> None:
    text = "يَقصِدُ الرئيسُ الفرنسيُّ فرانسوا أولوند موسكو يوم الخميس ١٢"
    assert normalize(normalize(text)) == normalize(text)
