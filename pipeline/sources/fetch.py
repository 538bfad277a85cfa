"""`--url URL`: fetch an article page safely, extract its text and metadata, and cache the result.

Safety, because the page comes from anywhere: only http and https; every host resolved and checked
(`safety.py`) on every hop, at most MAX_REDIRECTS redirects followed by hand; connect and read timeouts plus a
deadline for the whole fetch (a server that sends a byte a second never times out a read); the body streamed and
cut off at MAX_BYTES (a Content-Length above it is refused before reading); only web pages and plain text
(`text/html`, `application/xhtml+xml`, `text/plain`). No cookies, no credentials from ~/.netrc, no proxy settings
from the environment (a proxy would hide where a request really goes).

A fetched article is cached under `<cache>/sources/` keyed by the URL (written to a temp name, then renamed), so a
re-run reads the same text without fetching; `refresh=True` fetches again. A failed fetch caches nothing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from .. import __version__
from ..errors import NewsreelError
from ..hashing import sha256_bytes
from .article import split_title
from .extract import MIN_PAGE_WORDS, extract_html
from .model import Source, clean_text, now_iso
from .safety import check_address, check_url, is_private_host, resolve, split_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
DEADLINE = 45.0  # seconds for the whole fetch, redirects included
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
ARTICLE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
    "application/x-rss+xml", "text/plain", "text/html",
)
CACHE_FOLDER = "sources"
Private = Literal["refuse", "as-typed", "allow"]


@dataclass(frozen=True)
class Page:
    url: str  # where it was read, after redirects
    content_type: str
    charset: str | None
    body: bytes


def _shown(url: str) -> str:
    return url if len(url) <= 200 else url[:200] + "…"


def _session():
    try:
        import requests
    except ImportError:
        raise NewsreelError("fetching pages needs the requests package", "pip install requests") from None
    session = requests.Session()
    session.trust_env = False  # no proxies or ~/.netrc credentials from the environment
    session.headers.update({
        "User-Agent": f"newsreel/{__version__} (article fetcher)",
        "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
        "Accept-Encoding": "gzip, deflate",
    })
    return session


def fetch_bytes(
    url: str,
    *,
    accept: tuple[str, ...] = ARTICLE_TYPES,
    private: Private = "as-typed",
    what: str = "page",
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> Page:
    """GET `url` within the limits above; a one-line NewsreelError for anything that is not a readable page.

    `private`: "refuse" (only public addresses), "as-typed" (loopback and private addresses only when `url`'s own
    host is one, and only on that host: never where a redirect leads), "allow" (any but metadata and reserved)."""
    import requests

    url = url.strip()
    split_url(url)  # scheme and host first: a clear message before any lookup
    typed_host = urlsplit(url).hostname
    own_private = private == "as-typed" and is_private_host(url)
    started = time.monotonic()
    session = _session()
    current = url
    try:
        for hop in range(MAX_REDIRECTS + 1):
            _, host, port = split_url(current)
            allow = private == "allow" or (own_private and host == typed_host)
            for address in resolve(host, port):
                check_address(address, host, allow_private=allow)
            left = deadline - (time.monotonic() - started)
            if left <= 0:
                raise _timed_out(url, deadline)
            try:
                response = session.get(
                    current, stream=True, allow_redirects=False,
                    timeout=(min(connect_timeout, left), min(read_timeout, left)),
                )
            except requests.exceptions.ConnectTimeout:
                raise NewsreelError(
                    f"{_shown(current)} did not answer: connecting timed out after {connect_timeout:g} s",
                    "check the address, or try again later",
                ) from None
            except requests.exceptions.ReadTimeout:
                raise _timed_out(current, read_timeout) from None
            except requests.exceptions.SSLError as exc:
                raise NewsreelError(
                    f"{_shown(current)}: the secure connection failed ({_reason(exc)})",
                    "the site's certificate is not valid for this address; check the address",
                ) from None
            except requests.exceptions.ConnectionError as exc:
                raise NewsreelError(
                    f"could not connect to {host} ({_reason(exc)})", "check the address, or try again later"
                ) from None
            with response:
                _check_peer(response, host, allow)
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise NewsreelError(
                            f"{_shown(current)} redirects without saying where", "give the final address"
                        )
                    current = _without_fragment(urljoin(current, location))
                    continue
                if response.status_code >= 400:
                    reason = f" {response.reason}" if response.reason else ""
                    hint = ("check the address: the page is not there" if response.status_code in (404, 410)
                            else "the site refuses newsreel: save the article's text to a file and use --article FILE"
                            if response.status_code in (401, 402, 403, 451)
                            else "try again later, or save the article's text to a file and use --article FILE")
                    raise NewsreelError(f"{_shown(current)} answered HTTP {response.status_code}{reason}", hint)
                if response.status_code != 200:
                    raise NewsreelError(
                        f"{_shown(current)} answered HTTP {response.status_code} instead of a page",
                        "give the article's address",
                    )
                content_type, charset = _content_type(response.headers.get("Content-Type", ""))
                _check_type(current, content_type, accept, what)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(current, f"{int(declared) / 1e6:.1f} MB", max_bytes, what)
                body = _read(response, current, max_bytes, started, deadline, what)
                if not content_type and body.lstrip()[:5] == b"%PDF-":
                    _check_type(current, "application/pdf", accept, what)
                return Page(url=current, content_type=content_type or accept[0], charset=charset, body=body)
        raise NewsreelError(
            f"{_shown(url)} redirects more than {MAX_REDIRECTS} times", "give the article's final address"
        )
    except requests.exceptions.RequestException as exc:  # anything else requests raises mid-body
        raise NewsreelError(f"fetching {_shown(url)} failed ({_reason(exc)})", "try again later") from None
    finally:
        session.close()


def _timed_out(url: str, seconds: float) -> NewsreelError:
    return NewsreelError(f"{_shown(url)} timed out (no complete answer within {seconds:g} s)", "try again later")


def _too_large(url: str, size: str, limit: int, what: str) -> NewsreelError:
    return NewsreelError(
        f"{_shown(url)} is {size}; the limit for a {what} is {limit / (1024 * 1024):g} MB",
        "give the address of one article" if what == "page" else "give a smaller feed",
    )


def _reason(exc: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error ("Connection refused", "Name or service not known")."""
    text = str(exc)
    for marker in ("] ", "Errno"):
        if marker in text:
            text = text.split(marker)[-1]
    text = text.strip(" ')\"(").split("'))")[0]
    return " ".join(text.split())[:160] or type(exc).__name__


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _check_peer(response, host: str, allow: bool) -> None:
    """The address really connected to passes the same check (a name that resolved to a public address a moment
    ago may answer from a private one: DNS rebinding)."""
    import ipaddress

    try:
        sock = response.raw.connection.sock
        peer = sock.getpeername()[0]
    except (AttributeError, OSError, TypeError, IndexError):
        return  # not reachable on this urllib3: the resolved addresses were checked
    check_address(ipaddress.ip_address(str(peer).split("%")[0]), host, allow_private=allow)


def _content_type(header: str) -> tuple[str, str | None]:
    kind, _, rest = header.partition(";")
    charset = None
    for part in rest.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"' ").lower()
    return kind.strip().lower(), charset


def _check_type(url: str, content_type: str, accept: tuple[str, ...], what: str) -> None:
    if not content_type or content_type in accept:
        return
    if content_type == "application/pdf":
        raise NewsreelError(
            f"{_shown(url)} is a PDF (application/pdf), not a web page",
            "copy the article's text into a .txt file and use --article FILE",
        )
    kinds = "a web page or plain text" if what == "page" else "an RSS or Atom feed"
    raise NewsreelError(
        f"{_shown(url)} is {content_type}, not {kinds}",
        "give the address of the article's page" if what == "page" else "give the feed's address",
    )


def _socket(response):
    try:
        return response.raw.connection.sock
    except AttributeError:
        return None


def _read(response, url: str, max_bytes: int, started: float, deadline: float, what: str) -> bytes:
    """The body, at most `max_bytes`, within the deadline. A read blocks until its chunk is full, so a server that
    sends a byte at a time would outlast any per-read timeout: a timer shuts the socket when the deadline passes."""
    import socket

    sock = _socket(response)
    timer = None
    if sock is not None:
        def cut() -> None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        timer = threading.Timer(max(0.0, deadline - (time.monotonic() - started)), cut)
        timer.daemon = True
        timer.start()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(url, f"larger than {max_bytes / (1024 * 1024):g} MB", max_bytes, what)
            chunks.append(chunk)
            if time.monotonic() - started > deadline:
                raise _timed_out(url, deadline)
    except NewsreelError:
        raise
    except Exception:
        if time.monotonic() - started >= deadline:
            raise _timed_out(url, deadline) from None
        raise
    finally:
        if timer is not None:
            timer.cancel()
    if time.monotonic() - started >= deadline:  # the timer cut the body short
        raise _timed_out(url, deadline)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------------------------------
# Pages into sources, with the cache


def page_source(page: Page, url: str) -> Source:
    """A fetched page as a Source: HTML through trafilatura, plain text as it is (its first line may be a title)."""
    where = _shown(page.url)
    final = page.url if page.url != url else None
    if page.content_type == "text/plain":
        text = _decode_text(page)
        title, body = split_title(text, markdown=False)
        body = clean_text(body)
        words = len(body.split())
        if words < MIN_PAGE_WORDS:
            raise NewsreelError(
                f"{where} has only {words} words of text (a paywall or a teaser?)" if words else f"{where} is empty",
                "give the address of the full article, or save its text to a file and use --article FILE",
            )
        return Source(kind="url", url=url, final_url=final, fetched_at=now_iso(), text=body, title=title,
                      site=urlsplit(page.url).hostname)
    html: str | bytes = page.body
    if page.charset:
        try:
            html = page.body.decode(page.charset)
        except (LookupError, UnicodeDecodeError):
            html = page.body  # a wrong header: trafilatura guesses from the bytes
    found = extract_html(html, where=where, url=page.url)
    return Source(kind="url", url=url, final_url=final, fetched_at=now_iso(), text=found.text, title=found.title,
                  byline=found.byline, date=found.date, site=found.site or urlsplit(page.url).hostname)


def _decode_text(page: Page) -> str:
    for encoding in (page.charset, "utf-8-sig"):
        if not encoding:
            continue
        try:
            return page.body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(page.body).best()
        if best is not None:
            return str(best)
    except ImportError:
        pass
    raise NewsreelError(f"{_shown(page.url)} is not readable text (unknown encoding)", "give the article's web page")


def cache_path(cache_dir: Path, url: str) -> Path:
    key = sha256_bytes(url.strip().encode())
    return Path(cache_dir) / CACHE_FOLDER / key[:2] / f"{key}.json"


def cached_source(cache_dir: Path, url: str) -> Source | None:
    path = cache_path(cache_dir, url)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("url") != url.strip():
            return None
        return Source.model_validate(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, NewsreelError) as exc:  # a damaged entry: fetch again
        log.info("ignoring the cached fetch %s: %s", path, exc)
        return None


def _store(cache_dir: Path, source: Source) -> None:
    path = cache_path(cache_dir, source.url or "")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(source.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n"
        tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache costs a fetch next time, nothing else
        log.warning("could not cache the fetch of %s: %s", source.url, exc)
    finally:
        tmp.unlink(missing_ok=True)


def prune_fetches(cache_dir: Path, *, older_than_s: float | None = None) -> tuple[int, int]:
    """Remove cached fetches (all, or those written more than `older_than_s` seconds ago): (files removed, bytes).
    `newsreel cache prune` calls it beside the stage entries, which never hold the fetched articles."""
    folder = Path(cache_dir) / CACHE_FOLDER
    if not folder.is_dir():
        return 0, 0
    now = time.time()
    count = size = 0
    for path in sorted(folder.glob("*/*")):
        try:
            info = path.stat()
            if older_than_s is not None and now - info.st_mtime < older_than_s:
                continue
            path.unlink()
        except OSError:  # gone already, or not ours to remove: left for the next prune
            continue
        count += path.suffix == ".json"  # a leftover temp file is removed but not counted as a fetch
        size += info.st_size
    if older_than_s is None:  # everything went: the empty folders go too (a busy one stays, harmlessly)
        for empty in [*sorted(folder.iterdir()), folder]:
            try:
                empty.rmdir()
            except OSError:
                pass
    return count, size


def fetch_article(url: str, *, cache_dir: Path | None, refresh: bool = False, private: Private = "as-typed",
                  **limits: float) -> Source:
    """The article at `url` as a Source: from the cache unless `refresh`, else fetched, extracted and cached."""
    url = url.strip()
    if cache_dir is not None and not refresh:
        found = cached_source(cache_dir, url)
        if found is not None:
            if private == "refuse":  # cached by a more trusting caller (the command line's own private host)
                for where in (found.url, found.final_url):
                    if where:
                        check_url(where)
            return found
    page = fetch_bytes(url, accept=ARTICLE_TYPES, private=private, what="page", **limits)  # type: ignore[arg-type]
    source = page_source(page, url)
    if cache_dir is not None:
        _store(cache_dir, source)
    return source

