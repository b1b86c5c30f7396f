"""Arabic-aware text normalization for matching; displayed text always keeps the original."""

from __future__ import annotations

import re
import unicodedata

# Tashkeel (harakat, tanwin, shadda, sukun), Quranic marks and the superscript alef.
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
# Arabic-Indic and Persian digits -> ASCII, one character each (offsets survive): every digit folding uses this.
DIGITS = {**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}}
_DIGIT_MAP = str.maketrans(DIGITS)
_CHAR_MAP = str.maketrans(
    {
        "\u0622": "\u0627",  # alef madda -> alef
        "\u0623": "\u0627",  # alef hamza above -> alef
        "\u0625": "\u0627",  # alef hamza below -> alef
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0672": "\u0627",
        "\u0673": "\u0627",
        "\u0624": "\u0648",  # waw hamza -> waw
        "\u0626": "\u064a",  # ya hamza -> ya
        "\u0649": "\u064a",  # alef maqsura -> ya
        "\u06cc": "\u064a",  # Persian ya -> ya
        "\u06a9": "\u0643",  # Persian kaf -> kaf
        "\u0629": "\u0647",  # ta marbuta -> ha
        "\u06c0": "\u0647",
        **DIGITS,
    }
)


def normalize(text: str) -> str:
    """Fold the spelling variants of Arabic (and Unicode compatibility forms) to one form.

    NFKC first (presentation forms, ligatures and full-width letters become
    plain letters), then tashkeel and tatweel are removed, alef and hamza
    carriers, alef maqsura and ta marbuta are unified, and Arabic-Indic and
    Persian digits become ASCII. Latin text is case-folded. The length of the
    text may change: use it for matching, never for offsets.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    return text.translate(_CHAR_MAP).casefold()


def fold_digits(text: str) -> str:
    """Arabic-Indic and Persian digits as ASCII, nothing else changed (the length is kept: offsets stay valid)."""
    return text.translate(_DIGIT_MAP)
