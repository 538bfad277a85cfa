"""Fetching safely: every bad answer a page can give is one line naming the problem, and nothing is cached."""

from __future__ import annotations

import ipaddress

import pytest

from pipeline.errors import NewsreelError
from pipeline.sources import fetch, safety
from pipeline.sources.fetch import fetch_article
from pipeline.sources.safety import check_url, is_private_host


def cached_files(cache):
    return sorted(p for p in (cache / "sources").rglob("*") if p.is_file()) if (cache / "sources").exists() else []


@pytest.mark.parametrize(
    "path, needles",
    [
        ("/articles/99-gone", ["answered HTTP 404 Not Found", "the page is not there"]),
        ("/forbidden", ["answered HTTP 403 Forbidden", "the site refuses newsreel"]),
        ("/overloaded", ["answered HTTP 503 Service Unavailable", "try again later"]),
        ("/report.pdf", ["is a PDF (application/pdf)", "--article FILE"]),
        ("/image.png", ["is image/png, not a web page or plain text"]),
        ("/huge", ["is 52.4 MB; the limit for a page is 5 MB"]),
        ("/endless", ["is larger than 5 MB"]),
        ("/front-page", ["has no article text that newsreel could find", "not a front page"]),
        ("/paywall", ["has only 20 words of article text (a paywall, a cookie wall or a teaser?)"]),
        ("/redirect/6/01-bridge", ["redirects more than 5 times"]),
        ("/redirect-elsewhere", ["refusing to fetch from 127.0.0.2", "loopback"]),
        ("/redirect-metadata", ["refusing to fetch from 169.254.169.254", "a cloud metadata address", "never"]),
        ("/redirect-ftp", ["ftp://example.com/file.txt uses ftp:", "only http:// and https://"]),
    ],
)
def test_bad_pages_are_one_line_errors_and_nothing_is_cached(site, tmp_path, path, needles):
    with pytest.raises(NewsreelError) as caught:
        fetch_article(site.url(path), cache_dir=tmp_path)
    line = caught.value.one_line()
    assert "\n" not in str(caught.value)
    for needle in needles:
        assert needle in line, line
    assert cached_files(tmp_path) == []


@pytest.mark.parametrize(
    "url, needles",
    [
        ("ftp://example.com/story", ["uses ftp:", "only http:// and https://"]),
        ("file:///etc/passwd", ["uses file:"]),
        ("example.com/story", ["is not a web address"]),
        ("", ["no URL to fetch"]),
        ("http://no-such-host.invalid/story", ["the host no-such-host.invalid does not resolve"]),
        ("http://[::1/story", ["is not a valid URL"]),
        ("http://reader:secret@127.0.0.1/", ["holds a user name or password"]),
        ("http://0.0.0.0:9/", ["the unspecified address"]),
        ("http://127.0.0.1:9/", ["could not connect to 127.0.0.1"]),
    ],
)
def test_bad_addresses(tmp_path, url, needles):
    with pytest.raises(NewsreelError) as caught:
        fetch_article(url, cache_dir=tmp_path)
    line = caught.value.one_line()
    for needle in needles:
        assert needle in line, line
    assert "secret" not in line  # a password in the URL is never repeated
    assert cached_files(tmp_path) == []


def test_a_slow_server_times_out(site, tmp_path):
    with pytest.raises(NewsreelError, match=r"/slow timed out \(no complete answer within 0.5 s\)"):
        fetch_article(site.url("/slow"), cache_dir=tmp_path, read_timeout=0.5)
    assert cached_files(tmp_path) == []


def test_a_server_dripping_bytes_is_cut_off_at_the_deadline(site, tmp_path):
    # a byte every 0.2 s: no single read ever times out; the deadline for the whole fetch does
    with pytest.raises(NewsreelError, match=r"/drip timed out \(no complete answer within 1 s\)"):
        fetch_article(site.url("/drip"), cache_dir=tmp_path, deadline=1.0)
    assert cached_files(tmp_path) == []


def test_redirects_within_the_limit_and_old_charsets_are_followed(site, tmp_path):
    source = fetch_article(site.url("/redirect/5/01-bridge"), cache_dir=tmp_path)
    assert source.final_url == site.url("/articles/01-bridge")
    assert source.url == site.url("/redirect/5/01-bridge")
    latin = fetch_article(site.url("/latin1/11-music-festival"), cache_dir=tmp_path)
    assert "Björk Halldórsdóttir" in latin.text
    plain = fetch_article(site.url("/text/08-shipwreck.txt"), cache_dir=tmp_path)
    assert plain.title == "Divers find 17th-century merchant ship off Gullholm island"
    assert plain.text.startswith("Marine archaeologists have found")
    assert len(cached_files(tmp_path)) == 3


def test_extraction_keeps_the_article_and_drops_the_page_around_it(site, tmp_path):
    source = fetch_article(site.url("/articles/07-chip-earnings"), cache_dir=tmp_path)
    assert (source.title, source.byline, source.site) == (
        "Corvane Systems posts record $9.4 billion quarter on AI chip demand", "Kevin Liu", "Market Ledger")
    assert source.text.startswith("Corvane Systems, the maker of graphics and data-centre chips")
    assert source.text.endswith("on October 8.")
    for chrome in ("Most read", "Subscribe", "All rights reserved", "Privacy", "By Kevin Liu"):
        assert chrome not in source.text


def test_a_damaged_cache_entry_is_fetched_again(site, tmp_path):
    url = site.url("/articles/04-football-transfer")
    first = fetch_article(url, cache_dir=tmp_path)
    (entry,) = cached_files(tmp_path)
    entry.write_text('{"url": "' + url + '", "text": ')  # cut short
    hits = site.hits["/articles/04-football-transfer"]
    again = fetch_article(url, cache_dir=tmp_path)
    assert site.hits["/articles/04-football-transfer"] == hits + 1
    assert again.sha256 == first.sha256


def test_the_address_connected_to_is_checked_too(site, tmp_path, monkeypatch):
    """DNS rebinding: the name resolved to a public address when checked, then the connection went elsewhere."""
    monkeypatch.setattr(fetch, "resolve", lambda host, port: [ipaddress.ip_address("93.184.216.34")])
    with pytest.raises(NewsreelError, match="refusing to fetch from 127.0.0.1: it is 127.0.0.1, loopback"):
        fetch_article(site.url("/articles/01-bridge"), cache_dir=tmp_path, private="refuse")
    assert cached_files(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------------------
# The check a server calls for a client's URL


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://localhost:8000/x", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.1/admin", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://100.64.1.1/", "carrier-grade NAT"),
        ("http://169.254.10.20/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://100.100.100.200/", "a cloud metadata address"),
        ("http://0.0.0.0/", "the unspecified address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://240.0.0.1/", "reserved"),
    ],
)
def test_check_url_refuses_addresses_that_are_not_public(url, why):
    with pytest.raises(NewsreelError, match=why):
        check_url(url)


def test_check_url_allows_public_addresses_and_opens_private_ones_only_when_told():
    assert check_url("https://93.184.216.34/news") == [ipaddress.ip_address("93.184.216.34")]
    assert check_url("http://[2606:2800:220:1::1]/") == [ipaddress.ip_address("2606:2800:220:1::1")]
    assert check_url("http://127.0.0.1:8000/", allow_private=True) == [ipaddress.ip_address("127.0.0.1")]
    assert check_url("http://10.0.0.7/", allow_private=True)
    for never in ("http://169.254.169.254/", "http://0.0.0.0/", "http://224.0.0.1/"):
        with pytest.raises(NewsreelError, match="never fetches"):
            check_url(never, allow_private=True)
    with pytest.raises(NewsreelError, match="uses gopher:"):
        check_url("gopher://127.0.0.1/")


def test_a_typed_private_address_is_the_users_own_server():
    assert is_private_host("http://127.0.0.1:8000/x") and is_private_host("http://192.168.1.5/")
    assert not is_private_host("https://93.184.216.34/")
    assert not is_private_host("http://169.254.169.254/")  # never, even typed
    assert not is_private_host("http://no-such-host.invalid/")
    assert safety.describe(ipaddress.ip_address("8.8.8.8")) is None


def test_a_strict_caller_does_not_take_a_private_page_from_the_fetch_cache(site, tmp_path):
    """The command line may fetch its user's own server (cached as usual); the web service, which fetches in strict
    mode for clients, must not be handed that page from the shared cache."""
    url = site.url("/articles/06-wildfire")
    fetch_article(url, cache_dir=tmp_path)  # as typed: the user's own loopback server
    hits = site.hits["/articles/06-wildfire"]
    with pytest.raises(NewsreelError, match="refusing to fetch from 127.0.0.1: it is 127.0.0.1, loopback"):
        fetch_article(url, cache_dir=tmp_path, private="refuse")
    assert site.hits["/articles/06-wildfire"] == hits and len(cached_files(tmp_path)) == 1
