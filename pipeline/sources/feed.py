"""`newsreel batch --feed URL_OR_FILE`: one video per entry of an RSS or Atom feed (feedparser).

The feed is read once (fetched like an article page, or read from a file) and written into the batch's output
folder as `feed.jsonl`, one batch line per entry: its output name (from its title), its title as the headline and
its link as the `url` to fetch. The batch then runs as for any JSONL file: every line validated first, each item
fetched and made in a worker, so an entry whose page fails to fetch fails that item alone; an entry without a link
is such an item too. Running the same feed again resumes (fetches come from the cache, made items are skipped) and
picks up new entries.

A feed fetched from a public address may only send its items to public addresses (`public_only`): a feed on the
internet cannot make newsreel read a page on this machine's network. A feed from a file or from your own server
(a private address you typed) may link to your own pages.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import NewsreelError
from .fetch import FEED_TYPES, MAX_BYTES, fetch_bytes
from .safety import is_private_host

FEED_FILE = "feed.jsonl"


@dataclass(frozen=True)
class FeedEntry:
    number: int  # 1-based, in the feed's order
    title: str | None
    link: str | None


@dataclass(frozen=True)
class Feed:
    where: str  # the URL or file it was read from
    title: str | None
    entries: list[FeedEntry]
    public: bool  # read from a public address: its links may lead only to public addresses


def is_url(where: str) -> bool:
    return bool(re.match(r"(?i)[a-z][a-z0-9+.-]*://", where.strip()))


def read_feed(where: str, *, limit: int | None = None) -> Feed:
    """The entries of the RSS/Atom feed at `where` (an http(s) URL or a file), the first `limit` of them."""
    if limit is not None and limit < 1:
        raise NewsreelError(f"--limit must be at least 1, not {limit}", "e.g. --limit 5")
    where = where.strip()
    if is_url(where):
        page = fetch_bytes(where, accept=FEED_TYPES, private="as-typed", what="feed")
        data, public = page.body, not is_private_host(where)
    else:
        data, public = _read_file(Path(where).expanduser()), False
    try:
        import feedparser
    except ImportError:
        raise NewsreelError("reading feeds needs the feedparser package", "pip install feedparser") from None
    parsed = feedparser.parse(data)
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        why = f" (not XML: {' '.join(str(problem).split())[:100]})" if problem else ""
        raise NewsreelError(
            f"{where} is not an RSS or Atom feed{why}",
            "give the feed's address (often ending in /feed, /rss or .xml), not a web page",
        )
    entries = [
        FeedEntry(number=i, title=_text(entry.get("title")), link=_link(entry))
        for i, entry in enumerate(parsed.entries, 1)
    ]
    if not entries:
        raise NewsreelError(f"the feed {where} has no entries", "nothing to make: try again when it has news")
    return Feed(where=where, title=_text(parsed.feed.get("title")), entries=entries[:limit], public=public)


def _read_file(path: Path) -> bytes:
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise NewsreelError(f"the feed file {path} {what}", "give a feed's URL or an .xml/.rss/.atom file")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise NewsreelError(
                f"the feed file {path} is larger than {MAX_BYTES // (1024 * 1024)} MB", "give a smaller feed"
            )
        return path.read_bytes()
    except OSError as exc:
        raise NewsreelError(
            f"cannot read the feed file {path} ({exc.strerror or exc})", "check its permissions"
        ) from None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _link(entry: dict) -> str | None:
    link = entry.get("link")
    if not link:  # Atom: the alternate link, else the first
        links = entry.get("links") or []
        chosen = next((x for x in links if x.get("rel") == "alternate"), links[0] if links else None)
        link = chosen.get("href") if chosen else None
    return link.strip() if isinstance(link, str) and link.strip() else None


def batch_lines(feed: Feed) -> list[dict[str, object]]:
    """One batch line per entry: {"name", "headline" (when the title makes one), "url", "public_only"}."""
    from ..jobs import headline_from_title

    lines: list[dict[str, object]] = []
    taken: set[str] = set()
    for entry in feed.entries:
        line: dict[str, object] = {}
        if entry.title:
            try:
                line["headline"] = headline_from_title(entry.title)
            except NewsreelError:
                pass  # a title that is no headline (control characters...): the page's own title is used
        # No link: the item fails in its worker ("no URL to fetch"), the others go on.
        line["url"] = entry.link or ""
        if feed.public:
            line["public_only"] = True
        line["name"] = _unique(_slug(entry), taken)
        lines.append(line)
    return lines


def _slug(entry: FeedEntry) -> str:
    base = entry.title or (urlsplit(entry.link).path.rstrip("/").rsplit("/", 1)[-1] if entry.link else "")
    slug = re.sub(r"[^\w]+", "-", base.lower()).strip("-_")
    if len(slug) > 48:  # cut at a word
        slug = slug[:49].rsplit("-", 1)[0] if "-" in slug[:49] else slug[:48]
    return slug.strip("-_") or f"entry-{entry.number}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate.casefold() in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate.casefold())
    return candidate


def write_batch_file(feed: Feed, out_root: Path) -> Path:
    """OUT/feed.jsonl for the batch (written to a temp name, then renamed)."""
    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / FEED_FILE
    tmp = out_root / f".{FEED_FILE}.{uuid.uuid4().hex[:8]}.part"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for line in batch_lines(feed):
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def default_feed_out(where: str) -> Path:
    """newsreel-out/<the feed's host and path, or file stem>."""
    if is_url(where):
        parts = urlsplit(where)
        base = f"{parts.hostname or ''}{parts.path}"
    else:
        base = Path(where).stem
    return Path("newsreel-out") / (re.sub(r"[^\w.\-]+", "-", base).strip("-.")[:60] or "feed")
