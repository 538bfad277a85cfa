"""`Source`: the article a video is made from (a file or a fetched page), as plain, serialisable data.

A `Source` travels inside `jobs.MakeOptions`, so the CLI, batch lines and the web API validate it the same way. It
holds the article's main text and its metadata; run.json and the C2PA manifest get `summary()` (no text). This module
imports nothing heavy: reading and fetching live in `article.py` and `fetch.py`.
"""

from __future__ import annotations

import re
import time
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import NewsreelError
from ..hashing import sha256_bytes

MAX_TEXT_CHARS = 200_000  # about 30,000 words: a long feature, not a book (and the web API takes no more)
MAX_META_CHARS = 500  # a title, byline, date or site name longer than this is not one


class Source(BaseModel):
    """What a video is made from, when it is made from more than a headline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["file", "url"]
    url: str | None = Field(None, max_length=4000)  # the URL asked for (kind "url")
    final_url: str | None = Field(None, max_length=4000)  # where the page was read after redirects, when different
    file: str | None = Field(None, max_length=1000)  # the file's name, not its path (kind "file")
    fetched_at: str = ""  # UTC, ISO 8601: when the page was fetched or the file read
    title: str | None = Field(None, max_length=MAX_META_CHARS)
    byline: str | None = Field(None, max_length=MAX_META_CHARS)
    date: str | None = Field(None, max_length=MAX_META_CHARS)
    site: str | None = Field(None, max_length=MAX_META_CHARS)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    sha256: str = ""  # of the text's UTF-8 bytes; computed, and checked when given

    @model_validator(mode="before")
    @classmethod
    def _clean_and_hash(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("title", "byline", "date", "site"):
            value = data.get(key)
            if isinstance(value, str):
                data[key] = one_line(value)[:MAX_META_CHARS] or None
        text = data.get("text")
        if isinstance(text, str):
            if any("\ud800" <= ch <= "\udfff" for ch in text):
                raise NewsreelError(
                    "the source text is not valid Unicode (it holds a lone surrogate)", "give UTF-8 text"
                )
            text = clean_text(text)
            if not text:
                raise NewsreelError("the source has no text", "give an article with some text in it")
            if len(text) > MAX_TEXT_CHARS:
                raise NewsreelError(
                    f"the source text is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}",
                    "use one article, not a collection",
                )
            digest = sha256_bytes(text.encode())
            given = data.get("sha256")
            if given and given != digest:
                raise NewsreelError("the source's sha256 does not match its text", "leave sha256 out: it is computed")
            data["text"], data["sha256"] = text, digest
        if not data.get("fetched_at"):
            data["fetched_at"] = now_iso()
        return data

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def where(self) -> str:
        """How a message names it: the URL or the file name."""
        return self.url or self.file or "the source"

    def summary(self) -> dict[str, Any]:
        """What run.json and the manifest record: where it came from, when, its metadata and the text's sha256
        (never the text itself)."""
        data = self.model_dump(exclude={"text"}, exclude_none=True)
        data["words"] = self.words
        return data

    def key_material(self) -> dict[str, Any]:
        """What a script written from this source depends on (the cache key): the text's hash and the metadata a
        prompt may quote, not when or where it was fetched (a re-fetch of the same article is the same work)."""
        return {"sha256": self.sha256, "title": self.title, "byline": self.byline, "date": self.date, "site": self.site}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def one_line(text: str) -> str:
    """Printable text on one line: control, format (bidi) and other invisible characters go, whitespace runs become
    one space."""
    invisible = ("Cc", "Cf", "Cs", "Co")
    kept = "".join(" " if ch.isspace() else ch for ch in text if unicodedata.category(ch) not in invisible)
    return " ".join(kept.split())


def clean_text(text: str) -> str:
    """Article text as paragraphs: one line each, separated by a blank line; control and bidi characters removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    # Blank lines separate paragraphs (lines wrapped inside one are joined); text without any blank line (what
    # trafilatura gives) has a paragraph a line.
    separator = r"\n\s*\n" if re.search(r"\n\s*\n", text.strip()) else r"\n"
    paragraphs = [one_line(p) for p in re.split(separator, text)]
    return "\n\n".join(p for p in paragraphs if p)
