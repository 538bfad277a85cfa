"""`--article FILE`: an article saved as plain text, Markdown or HTML, read into a `Source`.

Plain text and Markdown must be UTF-8; the title is a Markdown `# heading` or, in plain text, a short first line
standing alone (no full stop, a blank line after it). Saved HTML goes through trafilatura like a fetched page.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import NewsreelError
from .extract import extract_html
from .model import MAX_TEXT_CHARS, Source, clean_text, now_iso, one_line

MAX_FILE_BYTES = 5 * 1024 * 1024
MIN_FILE_WORDS = 20  # fewer is a headline, not an article
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
TITLE_MAX_WORDS = 25


def read_article(path: Path | str) -> Source:
    """The article in `path` as a Source; a NewsreelError naming the file and the problem otherwise."""
    path = Path(path).expanduser()
    data = _read_bytes(path)
    if not data.strip():
        raise NewsreelError(f"the article file {path} is empty", "save the article's text in it (UTF-8)")
    if path.suffix.lower() in HTML_SUFFIXES or _looks_like_html(data):
        html = _decode(path, data, html=True)
        found = extract_html(html, where=f"the article file {path}", min_words=MIN_FILE_WORDS)
        return Source(kind="file", file=path.name, fetched_at=now_iso(), text=found.text, title=found.title,
                      byline=found.byline, date=found.date, site=found.site)
    text = _decode(path, data, html=False)
    title, body = split_title(text, markdown=path.suffix.lower() in (".md", ".markdown"))
    body = plain_markdown(body) if path.suffix.lower() in (".md", ".markdown") else clean_text(body)
    words = len(body.split())
    if words < MIN_FILE_WORDS:
        raise NewsreelError(
            f"the article file {path} has {words} words of text; an article needs at least {MIN_FILE_WORDS}",
            "for a headline alone, give it as the headline: newsreel make \"HEADLINE\"",
        )
    if len(body) > MAX_TEXT_CHARS:
        raise NewsreelError(
            f"the article file {path} holds {len(body)} characters of text; the limit is {MAX_TEXT_CHARS}",
            "use one article, not a collection",
        )
    return Source(kind="file", file=path.name, fetched_at=now_iso(), text=body, title=title)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise NewsreelError(f"the article file {path} does not exist", "check the path given to --article")
    if not path.is_file():
        raise NewsreelError(f"the article {path} is not a file", "give a .txt, .md or .html file to --article")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise NewsreelError(
                f"the article file {path} is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB",
                "give one article's text or its web page, not a collection",
            )
        return path.read_bytes()
    except OSError as exc:
        raise NewsreelError(
            f"cannot read the article file {path} ({exc.strerror or exc})", "check its permissions"
        ) from None


def _looks_like_html(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    return head.startswith(b"<") and b"<body" in data[:65536].lower()


def _decode(path: Path, data: bytes, *, html: bool) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if html:  # a saved page may say its own charset
            declared = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-]{2,40})", data[:4096], re.IGNORECASE)
            if declared:
                try:
                    return data.decode(declared.group(1).decode("ascii"))
                except (LookupError, UnicodeDecodeError):
                    pass
        raise NewsreelError(
            f"the article file {path} is not UTF-8 text (byte 0x{data[exc.start]:02X} at offset {exc.start})",
            "save it as UTF-8 (most editors offer it under 'Save as' / encoding)",
        ) from None


def split_title(text: str, *, markdown: bool) -> tuple[str | None, str]:
    """(title or None, the rest). Markdown: a first `# heading` (or a Setext `===` underline). Plain text: a first
    line of at most TITLE_MAX_WORDS words, without a final full stop, followed by a blank line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None, ""
    first = lines[0].strip()
    if markdown:
        heading = re.fullmatch(r"#{1,2}\s+(.+?)\s*#*", first)
        if heading:
            return one_line(_inline_markdown(heading.group(1))) or None, "\n".join(lines[1:])
        if len(lines) > 1 and re.fullmatch(r"=+\s*", lines[1]):
            return one_line(_inline_markdown(first)) or None, "\n".join(lines[2:])
        return None, text
    followed_by_blank = len(lines) == 1 or not lines[1].strip()
    short = len(first.split()) <= TITLE_MAX_WORDS
    if followed_by_blank and short and not first.endswith((".", "!", "?", ":", ";", ",")):
        return one_line(first) or None, "\n".join(lines[1:])
    return None, text


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def _inline_markdown(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    return _MD_EMPHASIS.sub(r"\2", text)


def plain_markdown(text: str) -> str:
    """Markdown as plain paragraphs: headings, list markers, quotes, rules, code fences, links and emphasis become
    text (a heading is a paragraph of its own)."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if re.fullmatch(r"(?:[-*_=]\s*){3,}|```.*|~~~.*", stripped):
            out.append("")
            continue
        heading = re.fullmatch(r"#{1,6}\s+(.+?)\s*#*", stripped)
        if heading:
            out.extend(["", _inline_markdown(heading.group(1)), ""])
            continue
        stripped = re.sub(r"^(?:>\s*)+", "", stripped)
        stripped = re.sub(r"^(?:[-*+]|\d{1,3}[.)])\s+", "", stripped)
        out.append(_inline_markdown(stripped))
    return clean_text("\n".join(out))
