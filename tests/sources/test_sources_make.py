"""Videos made from an article file and from a URL: the source in MakeOptions, run.json, the manifest, the keys and
the fetch cache. Fast providers (the test plugin) where the point is not the script."""

from __future__ import annotations

import json

import pytest

from pipeline import make_video
from pipeline.sources.article import read_article
from tests.helpers import TEST_PROVIDERS, work_done
from tests.sources.article_server import ARTICLES, articles

BRIDGE = articles()["01-bridge"]
MARS = articles()["02-mars-sample"]


def make(tmp_path, name, headline=None, **kw):
    return make_video(headline, out=tmp_path / name, providers={**TEST_PROVIDERS, **kw.pop("providers", {})}, **kw)


def test_article_file_makes_a_video_titled_by_the_article(test_plugin, isolated_config, tmp_path):
    source = read_article(BRIDGE["file"])
    result = make(tmp_path, "bridge", source=source)
    record = json.loads((tmp_path / "bridge" / "run.json").read_text())
    assert record["headline"] == BRIDGE["title"]
    assert record["source"] == {
        "kind": "file", "file": "01-bridge.md", "fetched_at": source.fetched_at, "title": BRIDGE["title"],
        "sha256": source.sha256, "words": source.words,
    }
    assert "text" not in record["source"]
    side = json.loads((tmp_path / "bridge" / "provenance.json").read_text())
    assertions = {a["label"]: a["data"] for a in side["assertions"]}
    assert assertions["org.newsreel.source"]["sourced"] is True
    assert assertions["org.newsreel.source"]["sha256"] == source.sha256
    assert f"from the article '{BRIDGE['title']}'" in assertions["c2pa.actions.v2"]["actions"][0]["description"]
    assert result.record["stages"]["script"]["hit"] is False


def test_the_same_headline_with_another_article_is_new_work(test_plugin, isolated_config, tmp_path):
    headline = "Big news today"
    plain = make(tmp_path, "plain", headline).record["stages"]
    test_plugin.unlink()
    bridge = make(tmp_path, "bridge", headline, source=read_article(BRIDGE["file"])).record["stages"]
    assert work_done(test_plugin)[:1] == ["script"]
    assert bridge["script"]["key"] != plain["script"]["key"]
    test_plugin.unlink()
    mars = make(tmp_path, "mars", headline, source=read_article(MARS["file"])).record["stages"]
    assert mars["script"]["key"] != bridge["script"]["key"]
    test_plugin.unlink()
    again = make(tmp_path, "again", headline, source=read_article(MARS["file"])).record["stages"]
    assert work_done(test_plugin) == []  # the same article read again (a new fetched_at) is the same work
    assert again["script"]["key"] == mars["script"]["key"]


def test_url_is_fetched_once_then_served_from_the_fetch_cache(test_plugin, isolated_config, tmp_path, site):
    url = site.url("/articles/02-mars-sample")
    before = site.hits["/articles/02-mars-sample"]
    first = make(tmp_path, "a", url=url)
    assert site.hits["/articles/02-mars-sample"] == before + 1
    record = first.record
    assert record["headline"] == MARS["title"]
    source = record["source"]
    assert (source["kind"], source["url"], source["byline"], source["site"]) == (
        "url", url, "Lena Fischer", "Orbit Daily")
    assert source["date"] == "2024-01-17"
    cached = list((isolated_config / "cache" / "sources").glob("*/*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["sha256"] == source["sha256"]
    second = make(tmp_path, "b", url=url)
    assert site.hits["/articles/02-mars-sample"] == before + 1  # not fetched again
    assert second.record["source"] == source  # fetched_at too: it is the cached fetch
    make(tmp_path, "c", url=url, refresh=True)
    assert site.hits["/articles/02-mars-sample"] == before + 2


def test_a_given_headline_wins_over_the_title(test_plugin, isolated_config, tmp_path, site):
    result = make(tmp_path, "h", "My own headline", url=site.url("/articles/01-bridge"))
    assert result.record["headline"] == "My own headline"
    assert result.record["source"]["title"] == BRIDGE["title"]


FLAGS = [arg for stage, name in TEST_PROVIDERS.items() for arg in ("-p", f"{stage}={name}")]


def test_cli_make_article_and_url(cli, tmp_path, site, isolated_config):
    done = cli("make", "--article", str(ARTICLES / "05-malaria-trial.md"), "--out", str(tmp_path / "a"), *FLAGS)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "a" / "run.json").read_text())
    assert record["headline"] == "New malaria vaccine cuts cases by 71 percent in large trial"
    assert record["source"]["file"] == "05-malaria-trial.md"
    done = cli("make", "--url", site.url("/articles/03-interest-rates"), "--out", str(tmp_path / "b"), *FLAGS)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "b" / "run.json").read_text())
    assert record["source"]["site"] == "Valdoria Business Review"
    assert record["headline"] == "Central bank of Valdoria raises interest rate to 4.25 percent"

    # `cache prune --all` takes the fetched articles too: the next make fetches the page again
    fetched = isolated_config / "cache" / "sources"
    assert len(list(fetched.glob("*/*.json"))) == 1
    hits = site.hits["/articles/03-interest-rates"]
    pruned = cli("cache", "prune", "--all")
    assert pruned.returncode == 0, pruned.stderr
    assert "and 1 fetched article," in pruned.stdout, pruned.stdout
    assert not fetched.exists()
    done = cli("make", "--url", site.url("/articles/03-interest-rates"), "--out", str(tmp_path / "c"), *FLAGS)
    assert done.returncode == 0, done.stderr
    assert site.hits["/articles/03-interest-rates"] == hits + 1
    assert cli("cache", "prune", "--stage", "script").returncode == 0  # a stage's prune leaves the fetches alone
    assert len(list(fetched.glob("*/*.json"))) == 1


def test_text_provider_narrates_the_fetched_articles_lead(test_plugin, isolated_config, tmp_path, site):
    result = make(tmp_path, "t", url=site.url("/articles/10-port-strike"), providers={"script": "text"})
    script = json.loads((tmp_path / "t" / "script.json").read_text())
    assert script["sentences"][0].startswith("Dock workers at Port Saltmarsh, the country's second-busiest")
    assert script["model"] == "the article's own lead sentences"
    assert result.record["stages"]["script"]["params"]["words"] == 240  # the word budget follows the voice
