"""News pages in, `WebPage` records out: the charset found, the story's text, title, date, author and site extracted."""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from qa.errors import InputError

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_INSTALL_HINT = "reading web pages needs trafilatura; install it with: pip install 'trafilatura>=2.0,<3'"
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
# The HTML standard's prescan: a <meta charset> or <meta http-equiv content="...charset=..."> in the first 1,024 bytes
# (we look a little further: a long <head> of scripts pushes it back on real sites).
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_PRESCAN_BYTES = 8192
_BLANKS = re.compile(r"[ \t\u00a0\u200b\u200e\u200f\ufeff]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SITE_SUFFIX = re.compile(r"\s+[|\u2013\u2014-]\s+[^|\u2013\u2014-]+$")
# Browsers read a page declared as ISO-8859-1 or ASCII as windows-1252 (the WHATWG encoding standard), and many
# Arabic servers that say ISO-8859-6 send windows-1256 bytes.
# Where sites put the time a story was first published, most trusted first (Open Graph, schema.org, Dublin Core).
_DATE_KEYS = ("article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
              "dc.date.issued", "dcterms.created", "date")
_META_TAG = re.compile(r"<meta\s[^>]*>", re.I)
_ATTRIBUTE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_JSONLD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Boxes inside a story that are not the story: matched as whole tokens of a class or id (so "ad" drops
# class="ad ad-inline" but not "header" or "lead").
_FURNITURE = re.compile(
    r"(?:^|[\s_-])(?:read-?also|read-?more|related|more-?stories|see-?also|ads?|advert\w*|sponsor\w*|promo|"
    r"share|sharing|social|newsletter|subscribe|comments?|breadcrumbs?|tags?)(?:$|[\s_-])", re.I)
# ... and by their heading, for boxes without a telling class: "اقرأ أيضا" and its kin, then mostly links.
_FURNITURE_HEADING = re.compile(r"^\s*(?:إ?اقرأ|إقرأ|شاهد|طالع|اقرا)\s+(?:أيضا|أيضاً|ايضا|ايضاً|المزيد)|^\s*(?:read|see) (?:also|more)\b", re.I)
_BOX_MAX_CHARS = 3000
# Fewer words than this is a menu or an error page, not a story.
_MIN_WORDS = 5
_WORDS = re.compile(r"\w+")
_BOX_TAGS = ("div", "aside", "section", "ul", "ol", "p", "figure", "table")
_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}


@dataclass(frozen=True)
class WebPage:
    """What was read from one news page. `text` has one paragraph a line; `published` is ISO 8601 when known."""

    url: str | None
    title: str
    text: str
    published: str | None = None
    author: str | None = None
    site: str | None = None
    description: str | None = None
    encoding: str = "utf-8"


def sniff_encoding(raw: bytes, content_type: str | None = None) -> str:
    """The codec to decode a page with: a BOM, then the HTTP header's charset, then the page's <meta>, then detection.

    Returns a Python codec name (e.g. "utf-8", "cp1256", "iso8859-6").
    """
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return name
    declared = []
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match:
            declared.append(match.group(1))
    match = _META_CHARSET.search(raw[:_PRESCAN_BYTES])
    if match:
        declared.append(match.group(1).decode("ascii", "replace"))
    for name in declared:
        codec = _codec(name)
        if codec is not None and _decodes(raw, codec):
            return codec
    return _detect(raw)


def decode_html(raw: bytes, content_type: str | None = None) -> tuple[str, str]:
    """The page's text and the codec it was decoded with (undecodable bytes become U+FFFD)."""
    codec = sniff_encoding(raw, content_type)
    return raw.decode(codec, "replace").lstrip("\ufeff"), codec


def _codec(name: str) -> str | None:
    name = name.strip().lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _decodes(raw: bytes, codec: str) -> bool:
    """Whether `raw` decodes cleanly, or nearly: a declared charset wins unless the bytes plainly contradict it."""
    try:
        raw.decode(codec)
        return True
    except UnicodeDecodeError:
        text = raw.decode(codec, "replace")
        return text.count("\ufffd") < max(3, len(text) // 1000)


def _detect(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000], cp_isolation=["cp1256", "iso8859_6", "cp1252", "utf_8"]).best()
    if best is None:
        return "utf-8"
    return codecs.lookup(best.encoding).name


def extract_page(raw: bytes | str, *, url: str | None = None, content_type: str | None = None) -> WebPage:
    """Read one news page: the story's paragraphs without the page's furniture, and its metadata.

    Args:
        raw: the page's bytes (decoded as `sniff_encoding` says) or its text.
        url: where the page came from; it fills a missing site and is the fallback of the canonical URL.
        content_type: the HTTP Content-Type header, whose charset comes first.

    Raises:
        InputError: the page holds no story text, or trafilatura is not installed.
    """
    try:
        import trafilatura
    except ImportError as exc:
        raise InputError(_INSTALL_HINT) from exc
    if isinstance(raw, bytes):
        text, codec = decode_html(raw, content_type)
    else:
        text, codec = raw, "utf-8"
    document = trafilatura.bare_extraction(
        _without_furniture(text), url=url, with_metadata=True, include_comments=False, include_tables=False,
        favor_precision=False, deduplicate=False, date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if document is None or len(_WORDS.findall(document.text or "")) < _MIN_WORDS:
        raise InputError(f"{url or 'page'}: no article text found in the page")
    if document.text.count("\ufffd") > 0.02 * len(document.text):
        raise InputError(f"{url or 'page'}: the page's text does not decode as {codec} (nor as any charset tried)")
    title = _clean_title(document.title or "", document.sitename)
    # A layout that puts the headline inside the story's container gives it back as the first paragraph.
    body = "\n".join(line for line in _clean(document.text).split("\n") if line != title)
    return WebPage(
        url=document.url or url,
        title=title,
        text=body,
        published=published_time(text) or _iso(document.date),
        author=_clean(document.author or "") or None,
        site=_clean(document.sitename or "") or None,
        description=_clean(document.description or "") or None,
        encoding=codec,
    )


def _without_furniture(page: str) -> object:
    """The page's tree without the boxes inside a story that are not the story (the text after each is kept)."""
    import lxml.html
    from lxml import etree

    try:
        tree = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return page
    doomed = []
    for element in tree.iter(*_BOX_TAGS, "span", "strong", "nav", "header", "footer", "form"):
        marks = f"{element.get('class', '')} {element.get('id', '')}"
        if marks.strip() and _FURNITURE.search(marks):
            # A story's own container may carry such a class too ("article share-enabled"): boxes are short.
            if len(element.text_content()) < _BOX_MAX_CHARS:
                doomed.append(element)
        elif element.tag in _BOX_TAGS and _FURNITURE_HEADING.match(element.text_content()[:40]):
            text = element.text_content()
            links = sum(len(a.text_content()) for a in element.iter("a"))
            if len(text) < 1500 and links > 0.4 * len(text):
                doomed.append(element)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()
    return tree


def published_time(page: str) -> str | None:
    """The publication time a page states in its <meta> tags or JSON-LD (ISO 8601, as written), or None."""
    found: dict[str, str] = {}
    for tag in _META_TAG.findall(page[:200_000]):
        attributes = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None
                      else m.group(4) for m in _ATTRIBUTE.finditer(tag)}
        key = (attributes.get("property") or attributes.get("name") or attributes.get("itemprop") or "").lower()
        value = (attributes.get("content") or "").strip()
        if key in _DATE_KEYS and _ISO_DAY.match(value):
            found.setdefault(key, value)
    for key in _DATE_KEYS:
        if key in found:
            return found[key]
    match = _JSONLD_DATE.search(page)
    return match.group(1) if match and _ISO_DAY.match(match.group(1)) else None


def _clean(text: str) -> str:
    lines = (_BLANKS.sub(" ", line).strip() for line in _CONTROLS.sub("", text).replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _clean_title(title: str, site: str | None) -> str:
    title = _clean(title).replace("\n", " ")
    if site and title.endswith(site):
        title = _SITE_SUFFIX.sub("", title)
    return title


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        return value
