"""A small web server on 127.0.0.1 for the source tests: the sample articles (tests/data/articles/) as
real-looking news pages, feeds of them, and every kind of bad answer a fetch must refuse.

`serve()` starts it in a thread and yields a `Site` (its base URL and a count of requests per path). The articles
were written for this project (CC0); the pages wrap them in navigation, a byline, related links and a footer, as a
news site would, so the tests exercise real main-text extraction.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

ARTICLES = Path(__file__).parent.parent / "data" / "articles"


def articles() -> dict[str, dict[str, object]]:
    """slug -> {"title", "paragraphs", "byline", "date", "site", "file"} for every sample article."""
    index = json.loads((ARTICLES / "index.json").read_text())
    found = {}
    for path in sorted(ARTICLES.glob("[0-9][0-9]-*.md")):
        lines = path.read_text().split("\n")
        title = lines[0].removeprefix("# ").strip()
        paragraphs = [p.strip() for p in "\n".join(lines[1:]).split("\n\n") if p.strip()]
        found[path.stem] = {"title": title, "paragraphs": paragraphs, "file": path, **index[path.name]}
    return found


def article_page(a: dict[str, object]) -> str:
    e = html.escape
    body = "\n".join(f"<p>{e(p)}</p>" for p in a["paragraphs"])  # type: ignore[union-attr]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(str(a["title"]))} | {e(str(a["site"]))}</title>
<meta name="author" content="{e(str(a["byline"]))}">
<meta property="og:site_name" content="{e(str(a["site"]))}">
<meta property="og:title" content="{e(str(a["title"]))}">
<meta property="article:published_time" content="{a["date"]}T08:00:00Z">
</head><body>
<header><a href="/">{e(str(a["site"]))}</a>
<nav><ul><li><a href="/news">News</a></li><li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li><li><a href="/subscribe">Subscribe</a></li></ul></nav></header>
<main><article>
<h1>{e(str(a["title"]))}</h1>
<p class="byline">By {e(str(a["byline"]))}</p>
<time datetime="{a["date"]}">{a["date"]}</time>
{body}
</article>
<aside><h2>Most read</h2><ul><li><a href="/a">Local bakery wins national prize</a></li>
<li><a href="/b">Five things to do this weekend</a></li>
<li><a href="/c">Traffic: roadworks on the ring road</a></li></ul></aside>
</main>
<footer><p>&copy; 2024 {e(str(a["site"]))}. All rights reserved.</p><p><a href="/privacy">Privacy</a> |
<a href="/cookies">Cookies</a> | <a href="/contact">Contact us</a></p></footer>
</body></html>"""


PAYWALL = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Budget talks collapse | The Ledger</title></head>
<body><nav><a href="/">Home</a> <a href="/subscribe">Subscribe</a></nav><article><h1>Budget talks collapse</h1>
<p>Talks on the national budget broke down late on Tuesday after the two main parties failed to agree on spending.</p>
<div class="paywall"><p>Subscribe to keep reading. Only $1 a week for the first year.</p>
<a href="/subscribe">Subscribe now</a></div></article><footer>&copy; The Ledger</footer></body></html>"""

NO_ARTICLE = """<!DOCTYPE html><html><head><title>Front page</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<ul><li><a href="/1">Story one</a></li><li><a href="/2">Story two</a></li></ul></body></html>"""


def rss(base: str, slugs: list[str], extra: str = "") -> str:
    items = []
    for slug in slugs:
        a = articles()[slug]
        items.append(f"""<item><title>{html.escape(str(a["title"]))}</title><link>{base}/articles/{slug}</link>
<guid>{base}/articles/{slug}</guid><pubDate>Mon, 04 Mar 2024 08:00:00 GMT</pubDate></item>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Sample news</title><link>{base}/</link><description>Test feed</description>
{"".join(items)}{extra}</channel></rss>"""


def atom(base: str, slugs: list[str]) -> str:
    entries = []
    for slug in slugs:
        a = articles()[slug]
        entries.append(f"""<entry><title>{html.escape(str(a["title"]))}</title>
<link rel="alternate" href="{base}/articles/{slug}"/><id>urn:sample:{slug}</id>
<updated>2024-03-04T08:00:00Z</updated></entry>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Sample news (Atom)</title><id>urn:sample</id>
<updated>2024-03-04T08:00:00Z</updated>{"".join(entries)}</feed>"""


@dataclass
class Site:
    base: str
    hits: Counter = field(default_factory=Counter)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes | str, content_type: str = "text/html; charset=utf-8",
                 headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:  # the client gave up (a timeout test): nothing to say
                pass

        def do_GET(self) -> None:  # noqa: C901 - one branch per test page
            path = self.path.split("?")[0]
            site.hits[path] += 1
            base = site.base
            all_slugs = list(articles())
            if m := re.fullmatch(r"/articles/([\w-]+)", path):
                a = articles().get(m.group(1))
                return self.send(200, article_page(a)) if a else self.send(404, "<h1>Not found</h1>")
            if m := re.fullmatch(r"/text/([\w-]+)\.txt", path):
                a = articles()[m.group(1)]
                text = f"{a['title']}\n\n" + "\n\n".join(a["paragraphs"])  # type: ignore[arg-type]
                return self.send(200, text, "text/plain; charset=utf-8")
            if m := re.fullmatch(r"/latin1/([\w-]+)", path):  # an old site: ISO-8859-1, said in the header
                a = articles()[m.group(1)]
                page = article_page(a).replace('<meta charset="utf-8">', "").replace("Björk", "Björk")
                return self.send(200, page.encode("latin-1", "replace"), "text/html; charset=iso-8859-1")
            if m := re.fullmatch(r"/redirect/(\d+)/([\w-]+)", path):
                n, slug = int(m.group(1)), m.group(2)
                target = f"/redirect/{n - 1}/{slug}" if n > 1 else f"/articles/{slug}"
                return self.send(302, "", headers={"Location": target})
            if path == "/redirect-elsewhere":  # to another loopback host than the one typed
                port = base.rsplit(":", 1)[1]
                return self.send(302, "", headers={"Location": f"http://127.0.0.2:{port}/articles/01-bridge"})
            if path == "/redirect-to":  # anywhere: ?to=URL (the web service's redirect test)
                from urllib.parse import parse_qs, urlsplit

                target = parse_qs(urlsplit(self.path).query).get("to", ["/"])[0]
                return self.send(302, "", headers={"Location": target})
            if path == "/redirect-metadata":
                return self.send(301, "", headers={"Location": "http://169.254.169.254/latest/meta-data/"})
            if path == "/redirect-ftp":
                return self.send(302, "", headers={"Location": "ftp://example.com/file.txt"})
            if path == "/forbidden":
                return self.send(403, "<h1>Forbidden</h1>")
            if path == "/overloaded":
                return self.send(503, "<h1>Try later</h1>")
            if path == "/paywall":
                return self.send(200, PAYWALL)
            if path == "/front-page":
                return self.send(200, NO_ARTICLE)
            if path == "/report.pdf":
                return self.send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf")
            if path == "/image.png":
                return self.send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")
            if path == "/huge":  # says 50 MB up front: refused before a byte of the body is read
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(50 * 1024 * 1024))
                self.end_headers()
                try:
                    for _ in range(50 * 16):
                        self.wfile.write(b"<p>" + b"x" * 65530 + b"</p>")
                except OSError:
                    pass
                return None
            if path == "/endless":  # no length given; 50 MB of page in chunks
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"<p>" + b"word " * 13000 + b"</p>"
                try:
                    for _ in range(50 * 1024 * 1024 // len(chunk)):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
                return None
            if path == "/slow":  # answers after 3 s: past a short read timeout
                time.sleep(3)
                return self.send(200, article_page(articles()["01-bridge"]))
            if path == "/drip":  # a byte every 0.2 s, for ever: no read ever times out, the deadline must
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(100000):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    pass
                return None
            if path == "/feed.xml":
                return self.send(200, rss(base, all_slugs), "application/rss+xml")
            if path == "/three.xml":
                return self.send(200, rss(base, all_slugs[:3]), "application/rss+xml")
            if path == "/atom.xml":
                return self.send(200, atom(base, all_slugs[:2]), "application/atom+xml")
            if path == "/mixed.xml":  # a good entry, one without a link, one whose page is gone, one paywalled
                extra = (f"<item><title>No link here</title><description>Teaser only</description></item>"
                         f"<item><title>Gone story</title><link>{base}/articles/99-gone</link></item>"
                         f"<item><title>Budget talks collapse</title><link>{base}/paywall</link></item>")
                return self.send(200, rss(base, ["02-mars-sample"], extra), "application/rss+xml")
            if path == "/empty.xml":
                return self.send(200, rss(base, []), "application/rss+xml")
            if path == "/not-a-feed":
                return self.send(200, NO_ARTICLE)
            return self.send(404, "<h1>Not found</h1>")

    return Handler


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[Site]:
    """`host`: a loopback address to bind (another than 127.0.0.1 stands in for a public site in the web service's
    tests, tests/service_public/)."""
    server = ThreadingHTTPServer((host, 0), None)  # type: ignore[arg-type]
    server.daemon_threads = True
    site = Site(f"http://{host}:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
