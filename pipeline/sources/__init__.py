"""Sources: what a video is made from when it is made from more than a headline.

- `model`: `Source`, the article as plain data (kind, URL or file name, when, title, byline, date, site, text, sha256)
- `article`: `read_article(path)`, a plain-text, Markdown or saved HTML file
- `fetch`: `fetch_article(url, cache_dir=...)`, a web page fetched safely, extracted with trafilatura, cached
- `safety`: `check_url(url)`, which addresses a fetch may reach (what a server calls for a client's URL)
- `feed`: `read_feed(url_or_file)`, the entries of an RSS or Atom feed, for `newsreel batch --feed`

Only `model` is imported here; the others import requests, trafilatura or feedparser when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import Source

if TYPE_CHECKING:
    from ..jobs import MakeOptions

__all__ = ["Source", "resolve_options"]


def resolve_options(options: "MakeOptions", cache_dir: Path | None, *, private: Any = "as-typed") -> "MakeOptions":
    """`options` with its `url` fetched into `source` (from the fetch cache unless `options.refresh`), and the
    source's title as the headline when none was given. Options without a URL, or with a source already, come back
    as they are. `private`: which addresses the fetch may reach (`fetch.fetch_bytes`); a server passes "refuse"."""
    if options.url is None or options.source is not None:
        return options
    from .fetch import fetch_article

    if options.public_only:  # the option only ever restricts (a web client cannot open anything with it)
        private = "refuse"
    source = fetch_article(options.url, cache_dir=cache_dir, refresh=options.refresh, private=private)
    return options.with_source(source)
