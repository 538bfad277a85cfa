"""`--article FILE`: plain text, Markdown and saved HTML read into a Source; bad files are one-line errors."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import NewsreelError
from pipeline.jobs import MakeOptions
from pipeline.sources.article import read_article
from pipeline.sources.model import Source
from tests.helpers import TEST_PROVIDERS, work_done
from tests.sources.article_server import ARTICLES, article_page, articles

BODY = ("The city council approved a new library on Monday. It will open in 2026 and hold 80,000 books. "
        "Mayor Ana Torres said the $12 million building would be the first in the Eastbank district. ")


def test_markdown_title_and_text():
    source = read_article(ARTICLES / "06-wildfire.md")
    assert source.title == "Wildfire forces 8,000 to evacuate near Pine Hollow"
    assert source.text.startswith("A wildfire that started on Saturday afternoon")
    assert source.text.count("\n\n") == 7  # eight paragraphs
    assert (source.kind, source.file, source.url) == ("file", "06-wildfire.md", None)
    assert source.words == len(source.text.split()) > 200


def test_markdown_markup_becomes_plain_text(tmp_path):
    path = tmp_path / "story.md"
    linked = BODY.replace("new library", "[new library](https://x.example)")
    path.write_text("Library **approved** at last\n===\n\n## Details\n\n- " + linked + "\n\n> A quote. " + BODY)
    source = read_article(path)
    assert source.title == "Library approved at last"
    assert "**" not in source.text and "](" not in source.text and "> " not in source.text
    assert source.text.startswith("Details\n\nThe city council approved a new library on Monday.")


def test_plain_text_title_only_when_it_stands_alone(tmp_path):
    titled = tmp_path / "a.txt"
    titled.write_text("Eastbank gets a library\n\n" + BODY * 2)
    assert read_article(titled).title == "Eastbank gets a library"
    untitled = tmp_path / "b.txt"
    untitled.write_text(BODY * 2)
    source = read_article(untitled)
    assert source.title is None and source.text == (BODY * 2).strip()
    with pytest.raises(NewsreelError, match="the article b.txt has no title to use as the headline"):
        MakeOptions.parse({"source": source})
    assert MakeOptions.parse({"source": source, "headline": "Library news"}).headline == "Library news"


def test_saved_html_goes_through_trafilatura(tmp_path):
    a = articles()["09-election"]
    path = tmp_path / "page.html"
    path.write_text(article_page(a))
    source = read_article(path)
    assert (source.title, source.byline, source.site, source.date) == (
        a["title"], "Eva Novak", "Kestria Today", "2024-09-23")
    assert source.text.startswith("The Green Alliance won the Kestria regional election")
    assert "Most read" not in source.text
    # a saved page in its own declared charset
    legacy = tmp_path / "legacy.htm"
    legacy.write_bytes(article_page(articles()["11-music-festival"]).replace("utf-8", "windows-1252").encode("cp1252"))
    assert "Björk" in read_article(legacy).text


def test_a_long_title_becomes_a_headline_cut_at_a_word():
    source = Source(kind="file", file="x.txt", text=BODY, title="Word " * 80)
    headline = MakeOptions.parse({"source": source}).headline
    assert len(headline) <= 300 and headline.endswith("Word…")


@pytest.mark.parametrize(
    "name, content, needles",
    [
        ("empty.txt", b"", ["the article file", "empty.txt is empty"]),
        ("blank.md", b"  \n\n \t\n", ["is empty"]),
        ("latin1.txt", "Caf\u00e9 owners protest new rules in the city centre. ".encode("latin-1") * 5,
         ["is not UTF-8 text (byte 0xE9", "save it as UTF-8"]),
        ("short.txt", b"Storm hits coast.\n", ["has 3 words of text; an article needs at least 20"]),
        ("nav.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>", ["has no article text"]),
    ],
)
def test_bad_article_files(tmp_path, name, content, needles):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NewsreelError) as caught:
        read_article(path)
    line = caught.value.one_line()
    for needle in needles:
        assert needle in line, line


def test_missing_folder_and_oversized_article_files(tmp_path):
    with pytest.raises(NewsreelError, match="does not exist"):
        read_article(tmp_path / "nope.txt")
    with pytest.raises(NewsreelError, match="is not a file"):
        read_article(tmp_path)
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing them
    with pytest.raises(NewsreelError, match=r"is 52.4 MB; the limit is 5 MB"):
        read_article(big)


def test_source_model_checks_what_a_client_could_send():
    with pytest.raises(NewsreelError, match="sha256 does not match"):
        MakeOptions.parse({"headline": "x", "source": {"kind": "url", "text": BODY, "sha256": "0" * 64}})
    with pytest.raises(NewsreelError, match="no text"):
        MakeOptions.parse({"headline": "x", "source": {"kind": "url", "text": " \n "}})
    with pytest.raises(NewsreelError, match="200000"):
        MakeOptions.parse({"headline": "x", "source": {"kind": "url", "text": "word " * 50000}})
    ok = MakeOptions.parse({"headline": "x", "source": {"kind": "url", "url": "https://e.example/a", "text": BODY,
                                                        "title": "A\u202e title\x07"}})
    assert ok.source.title == "A title" and len(ok.source.sha256) == 64


# ---------------------------------------------------------------------------------------------------------------------
# The command line: one line, exit 2, nothing written


FLAGS = [arg for stage, name in TEST_PROVIDERS.items() for arg in ("-p", f"{stage}={name}")]


def test_cli_refusals_are_one_line_and_leave_nothing(cli, tmp_path, site, test_plugin, isolated_config):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\u00e9 ".encode("latin-1") * 40)
    cases = [
        (["--article", str(empty)], "is empty"),
        (["--article", str(latin)], "is not UTF-8 text"),
        (["--article", str(tmp_path / "missing.md")], "does not exist"),
        (["--url", site.url("/report.pdf")], "is a PDF (application/pdf)"),
        (["--url", site.url("/huge")], "the limit for a page is 5 MB"),
        (["--url", site.url("/paywall")], "only 20 words of article text"),
        (["--url", site.url("/articles/99-gone")], "answered HTTP 404"),
        (["--url", "ftp://example.com/x"], "only http:// and https://"),
        (["--url", "http://no-such-host.invalid/x"], "does not resolve"),
        (["--url", site.url("/articles/01-bridge"), "--article", str(empty)], "give --article or --url, not both"),
        (["--refresh"], "--refresh goes with --url"),
        ([], "newsreel make needs its HEADLINE, or an article: --article FILE or --url URL"),
    ]
    for args, needle in cases:
        out = tmp_path / "out"
        proc = cli("make", *args, "--out", str(out), *FLAGS)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], (args, proc.stderr)
        assert not out.exists()
    assert work_done(test_plugin) == []
    assert not (isolated_config / "cache" / "sources").exists()
