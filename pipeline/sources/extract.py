"""An article's main text and metadata out of a web page (trafilatura), shared by saved HTML files and fetched URLs.

Navigation, comments, footers and boilerplate are left out; the title, byline, date and site name come from the
page's metadata. A page with no article text, or only a few lines of it (a paywall or a cookie wall, a teaser), is
refused with one line saying so: a video made from it would have nothing to restate.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ..errors import NewsreelError
from .model import clean_text, one_line

log = logging.getLogger(__name__)

MIN_PAGE_WORDS = 80  # fewer words of article text than this is a teaser, a paywall stub or a cookie wall


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    byline: str | None = None
    date: str | None = None
    site: str | None = None


def trafilatura_missing() -> NewsreelError:
    return NewsreelError("reading web pages needs the trafilatura package", "pip install trafilatura")


def extract_html(
    html: str | bytes, *, where: str, url: str | None = None, min_words: int = MIN_PAGE_WORDS
) -> Extracted:
    """The main text and metadata of an HTML page. `where` names the page in messages (a URL or a file)."""
    try:
        import trafilatura
    except ImportError:
        raise trafilatura_missing() from None
    # trafilatura's own logger warns about every odd page on stderr; newsreel says what matters itself.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    logging.getLogger("htmldate").setLevel(logging.ERROR)
    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
        )
    except Exception as exc:  # noqa: BLE001 - lxml and trafilatura raise many kinds on broken markup
        log.info("trafilatura failed on %s: %s", where, exc)
        doc = None
    text = getattr(doc, "text", None) or ""
    title = _meta(getattr(doc, "title", None))
    byline = _meta(getattr(doc, "author", None))
    text = _drop_heading_lines(text, title, byline)
    words = len(text.split())
    if words < 10:  # a stray link or label, not article text
        raise NewsreelError(
            f"{where} has no article text that newsreel could find",
            "give the address of the article itself (not a front page or a feed), or save its text to a file and "
            "use --article FILE",
        )
    if words < min_words:
        raise NewsreelError(
            f"{where} has only {words} words of article text (a paywall, a cookie wall or a teaser?)",
            "save the article's full text to a file and use --article FILE",
        )
    return Extracted(
        text=text,
        title=title,
        byline=byline,
        date=_meta(getattr(doc, "date", None)),
        site=_meta(getattr(doc, "sitename", None)),
    )


def _meta(value: object) -> str | None:
    return one_line(value)[:500] or None if isinstance(value, str) else None


def _drop_heading_lines(text: str, title: str | None, byline: str | None) -> str:
    """The article's paragraphs without a leading repeat of the title and a byline line ("By Jane Doe")."""
    paragraphs = clean_text(text).split("\n\n") if text.strip() else []
    while paragraphs:
        first = paragraphs[0]
        norm = _norm(first)
        if title and norm == _norm(title):
            paragraphs.pop(0)
        elif re.fullmatch(r"(?i)by\s+.{1,80}", first) and (not byline or _norm(byline) in norm):
            paragraphs.pop(0)
        else:
            break
    return "\n\n".join(paragraphs)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())
