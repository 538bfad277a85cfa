"""`newsreel batch --feed`: one video per feed entry; a bad feed is one line (exit 2), a bad entry fails alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.errors import NewsreelError
from pipeline.jobs import MakeOptions
from pipeline.sources import resolve_options
from pipeline.sources.feed import Feed, FeedEntry, batch_lines, read_feed
from tests.helpers import TEST_PROVIDERS, work_done
from tests.sources.article_server import articles, rss

TITLES = [a["title"] for a in articles().values()]


def test_rss_and_atom_entries_in_order(site, tmp_path):
    feed = read_feed(site.url("/feed.xml"))
    assert feed.title == "Sample news" and not feed.public  # 127.0.0.1: the user's own server
    assert [e.title for e in feed.entries] == TITLES
    assert feed.entries[0].link == site.url("/articles/01-bridge")
    assert [e.title for e in read_feed(site.url("/feed.xml"), limit=3).entries] == TITLES[:3]
    atom = read_feed(site.url("/atom.xml"))
    assert [(e.title, e.link) for e in atom.entries] == [
        (TITLES[0], site.url("/articles/01-bridge")), (TITLES[1], site.url("/articles/02-mars-sample"))]
    saved = tmp_path / "news.rss"
    saved.write_text(rss(site.base, ["03-interest-rates"]))
    assert [e.title for e in read_feed(str(saved)).entries] == [TITLES[2]]


@pytest.mark.parametrize(
    "path, needles",
    [
        ("/not-a-feed", ["is not an RSS or Atom feed", "not a web page"]),
        ("/empty.xml", ["has no entries"]),
        ("/missing.xml", ["answered HTTP 404"]),
        ("/report.pdf", ["is a PDF"]),
    ],
)
def test_bad_feeds(site, path, needles):
    with pytest.raises(NewsreelError) as caught:
        read_feed(site.url(path))
    for needle in needles:
        assert needle in caught.value.one_line()


def test_bad_feed_files(tmp_path):
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"this is \x00 not <xml")
    with pytest.raises(NewsreelError, match=r"junk.xml is not an RSS or Atom feed \(not XML: "):
        read_feed(str(junk))
    with pytest.raises(NewsreelError, match="the feed file .*nope.xml does not exist"):
        read_feed(str(tmp_path / "nope.xml"))
    with pytest.raises(NewsreelError, match="--limit must be at least 1"):
        read_feed(str(junk), limit=0)


def test_batch_lines_name_each_entry_and_keep_a_public_feed_public():
    feed = Feed(where="https://news.example/rss", title=None, public=True, entries=[
        FeedEntry(1, "Storm hits the coast", "https://news.example/storm"),
        FeedEntry(2, "Storm hits the coast", "https://news.example/storm-2"),
        FeedEntry(3, None, "https://news.example/2024/budget-deal/"),
        FeedEntry(4, "No link", None),
        FeedEntry(5, "Bad\x00title", "https://news.example/x"),
    ])
    lines = batch_lines(feed)
    assert [line["name"] for line in lines] == [
        "storm-hits-the-coast", "storm-hits-the-coast-2", "budget-deal", "no-link", "bad-title"]
    assert lines[2].get("headline") is None and lines[3]["url"] == ""
    assert "headline" not in lines[4]  # a title with control characters is no headline: the page's title is used
    assert all(line["public_only"] is True for line in lines)


def test_a_public_feeds_item_cannot_reach_this_machine(site, tmp_path):
    options = MakeOptions.parse({"url": site.url("/articles/01-bridge"), "public_only": True})
    with pytest.raises(NewsreelError, match="refusing to fetch from 127.0.0.1: it is 127.0.0.1, loopback"):
        resolve_options(options, tmp_path)
    own = MakeOptions.parse({"url": site.url("/articles/01-bridge")})
    assert resolve_options(own, tmp_path).headline == TITLES[0]


# ---------------------------------------------------------------------------------------------------------------------
# The command line


@pytest.fixture
def cli(test_plugin, isolated_config):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "COLUMNS": "200"}
    env.update({f"NEWSREEL_PROVIDERS__{stage.upper()}": name for stage, name in TEST_PROVIDERS.items()})

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, env=env,
                              timeout=300)

    return run


def test_batch_feed_makes_each_entry_and_fails_bad_ones_alone(cli, site, tmp_path, test_plugin):
    out = tmp_path / "out"
    proc = cli("batch", "--feed", site.url("/mixed.xml"), "--out", str(out))
    assert proc.returncode == 1, proc.stderr  # some items failed
    summary = json.loads((out / "batch.json").read_text())
    items = {item["name"]: item for item in summary["items"]}
    assert {n: i["status"] for n, i in items.items()} == {
        "rover-tenacity-drills-first-sample-from-martian": "ok", "no-link-here": "failed",
        "gone-story": "failed", "budget-talks-collapse": "failed"}
    assert "no URL to fetch" in items["no-link-here"]["error"]
    assert "answered HTTP 404" in items["gone-story"]["error"]
    assert "only 20 words of article text" in items["budget-talks-collapse"]["error"]
    record = json.loads((out / "rover-tenacity-drills-first-sample-from-martian" / "run.json").read_text())
    assert record["source"]["url"] == site.url("/articles/02-mars-sample")
    assert record["source"]["site"] == "Orbit Daily"
    assert record["headline"] == TITLES[1]
    fetched = site.hits["/articles/02-mars-sample"]
    # again: the made item is skipped without fetching its page again, the failed ones are tried again
    test_plugin.unlink()
    again = cli("batch", "--feed", site.url("/mixed.xml"), "--out", str(out))
    assert again.returncode == 1
    statuses = {i["name"]: i["status"] for i in json.loads((out / "batch.json").read_text())["items"]}
    assert statuses["rover-tenacity-drills-first-sample-from-martian"] == "skipped"
    assert site.hits["/articles/02-mars-sample"] == fetched
    assert work_done(test_plugin) == []


def test_batch_feed_limit(cli, site, tmp_path):
    out = tmp_path / "out"
    proc = cli("batch", "--feed", site.url("/feed.xml"), "--limit", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    items = json.loads((out / "batch.json").read_text())["items"]
    assert [(i["name"], i["status"]) for i in items] == [
        ("riverside-council-approves-40-million-clear", "ok"),
        ("rover-tenacity-drills-first-sample-from-martian", "ok")]
    assert [json.loads(line)["url"] for line in (out / "feed.jsonl").read_text().splitlines()] == [
        site.url("/articles/01-bridge"), site.url("/articles/02-mars-sample")]


def test_batch_feed_refusals_are_one_line_exit_2(cli, site, tmp_path, test_plugin):
    headlines = tmp_path / "h.txt"
    headlines.write_text("One headline\n")
    cases = [
        (["--feed", site.url("/not-a-feed")], "is not an RSS or Atom feed"),
        (["--feed", site.url("/empty.xml")], "has no entries"),
        (["--feed", str(tmp_path / "nope.xml")], "does not exist"),
        (["--feed", site.url("/feed.xml"), "--limit", "0"], "--limit must be at least 1"),
        ([str(headlines), "--feed", site.url("/feed.xml")], "not both"),
        ([str(headlines), "--limit", "2"], "--limit goes with --feed"),
        ([], "needs a FILE of headlines or --feed"),
    ]
    for args, needle in cases:
        out = tmp_path / "out"
        proc = cli("batch", *args, "--out", str(out))
        assert proc.returncode == 2, (args, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], (args, proc.stderr)
        assert not out.exists()
    assert work_done(test_plugin) == []
