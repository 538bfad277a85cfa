"""The grounding check (pipeline/grounding.py): items found in any spelling, ungrounded sentences replaced by the
closest source sentence, unsourced scripts' invented items listed, and the verdict in run.json and the manifest."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import make_video
from pipeline.grounding import Evidence, extract, ground_script, ground_sentences, words_number
from pipeline.sources.article import read_article
from pipeline.sources.model import Source
from pipeline.stages.script import Scene, Script
from tests.helpers import TEST_PROVIDERS
from tests.sources.article_server import ARTICLES

BRIDGE = read_article(ARTICLES / "01-bridge.md")


def keys(text: str) -> list[tuple]:
    return [item.key for item in extract(text)]


@pytest.mark.parametrize(
    "forms",
    [
        ["$40M", "$40 million", "40 million dollars", "US$40,000,000", "$40,000,000", "USD 40 million", "40m dollars"],
        ["€3.2bn", "3.2 billion euros", "EUR 3,200 million", "€3,200,000,000"],
        ["£500,000", "500 thousand pounds", "half a million pounds"[0:0] or "£0.5 million"],
        ["89 cents", "$0.89"],
        ["2.5 million kronor", "2.5 million crowns", "SEK 2,500,000"],
        ["$40-million", "40-million-dollar", "$40 mln"],
        ["71%", "71 percent", "71 per cent", "seventy-one percent"],
        ["March 3", "3 March", "3rd of March", "March 3rd", "Mar. 3"],
        ["5:30 p.m.", "17:30", "5.30 pm"],
        ["11 p.m.", "11pm", "23:00"],
    ],
)
def test_one_fact_in_many_spellings_has_one_key(forms):
    found = [keys(f"It was {form} in the end.") for form in forms]
    assert all(len(k) == 1 for k in found), found
    assert len({k[0] for k in found}) == 1, found


@pytest.mark.parametrize(
    "script, source",
    [
        ("The council approved $40M.", "The council approved a $40 million bridge."),
        ("It will carry 12000 cars.", "It will carry 12,000 vehicles a day."),
        ("Work takes 3 years.", "Construction will take three years."),
        ("The mission costs 2.7 billion dollars.", "a $2.7 billion mission"),
        ("The rocks of Mars' oldest crater.", "If microbes ever lived on Mars, a delta like this"),
        ("NASA's rover on Mars's surface.", "The rover of NASA landed on Mars."),
        ("Okafor spoke on March 3, 2024.", "Dr. Helen Okafor said on 3 March 2024 that"),
        ("The Smiths' shop closed.", "The shop run by the Smith family closed."),
        ("Inflation hit 6.8 per cent.", "prices rose 6.8 percent"),
        ("Voting closed in May.", "from May 2025 onwards"),
    ],
)
def test_grounded_across_formatting_and_inflection(script, source):
    evidence = Evidence.of(source)
    items = extract(script)
    missing = [(i.text, i.key) for i in items if not evidence.grounds(i)]
    assert items and not missing, missing


@pytest.mark.parametrize(
    "script, invented",
    [
        ("The 2035 Apollo missions begin.", ["2035", "Apollo"]),
        ("The Daily Mail reports a breakthrough.", ["Daily Mail"]),
        ("It costs $45 million.", ["$45 million"]),
        ("It costs €40 million.", ["€40 million"]),  # the source's amount is in dollars
        ("The vote was on March 4.", ["March 4"]),
        ("Architect Helena Torres designed it.", ["Helena Torres"]),
        ("About 41 percent agreed.", ["41 percent"]),
    ],
)
def test_invented_items_are_not_grounded(script, invented):
    evidence = Evidence.of(BRIDGE.text)
    assert [i.text for i in extract(script) if not evidence.grounds(i)] == invented


def test_ordinary_words_opening_sentences_are_not_names():
    assert extract("Rates rose again. Officials said so. Additionally, prices fell.") == []
    assert [i.text for i in extract("Okafor spoke. Then Okafor left.")] == ["Okafor", "Okafor"]  # also inside one
    assert [i.text for i in extract("Architect Helena Torres spoke.")] == ["Helena Torres"]
    assert [i.text for i in extract("NASA said so.")] == ["NASA"]  # an acronym
    assert [i.text for i in extract("Dr. Helen Okafor of the Northern Space Agency")] == [
        "Helen Okafor", "Northern Space Agency"]


def test_spelled_numbers():
    assert words_number("forty-five") == 45
    assert words_number("two hundred thousand") == 200000
    assert words_number("one million three hundred") == 1000300
    assert words_number("many") is None


# ---------------------------------------------------------------------------------------------------------------------
# The normaliser, property-based: any amount in any of its spellings means the same


SCALES = {"": 1, "thousand": 10**3, "million": 10**6, "billion": 10**9}
SHORT = {"thousand": "k", "million": "M", "billion": "bn"}


@settings(max_examples=150, deadline=None)
@given(
    whole=st.integers(min_value=1, max_value=999),
    tenths=st.one_of(st.none(), st.integers(min_value=1, max_value=9)),
    scale=st.sampled_from(list(SCALES)),
    currency=st.sampled_from([("$", "dollars", "USD"), ("€", "euros", "EUR"), ("£", "pounds", "GBP")]),
)
def test_money_spellings_agree(whole, tenths, scale, currency):
    number = f"{whole}.{tenths}" if tenths else str(whole)
    value = Decimal(number) * SCALES[scale]
    symbol, word, code = currency
    if value == value.to_integral():
        full = f"{int(value):,}"
    else:
        full = f"{value:,f}".rstrip("0").rstrip(".")
    spellings = [f"{symbol}{full}", f"{full} {word}", f"{code} {full}"]
    if scale:
        spellings += [f"{symbol}{number} {scale}", f"{number} {scale} {word}", f"{symbol}{number}{SHORT[scale]}"]
    found = {tuple(keys(f"It cost {s} last year.")) for s in spellings}
    assert len(found) == 1, (spellings, found)
    ((key,),) = found
    assert key[0] == "money" and key[2] == value


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=0, max_value=10**12), percent=st.booleans())
def test_number_spellings_agree(n, percent):
    tail = " percent" if percent else " people"
    grouped, plain = f"{n:,}", str(n)
    a, b = keys(f"About {grouped}{tail} came."), keys(f"About {plain}{tail} came.")
    assert a == b and len(a) == 1
    assert a[0][-1] == n
    if n >= 10**6 and n % 10**5 == 0:  # 1,200,000 = 1.2 million
        million = Decimal(n) / 10**6
        assert keys(f"About {million.normalize():f} million{tail} came.") == a


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.from_regex(
    r"[A-Z][a-z]{1,8} (?:\$|€)?[0-9,.]{1,40}(?: (?:million|bn|percent|dollars|March|p\.m\.))? [A-Z][a-z]+\.",
    fullmatch=True))
def test_any_text_is_checked_without_error(text):
    evidence = Evidence.of(text)
    items = extract(text)
    assert all(evidence.grounds(item) for item in items)  # a text grounds its own items
    assert [i.start for i in items] == sorted(i.start for i in items)


# ---------------------------------------------------------------------------------------------------------------------
# Replacing, listing, unsourced


DRAFT = [
    "Riverside council approved a $40 million bridge over the Clear River.",  # grounded
    "Engineers from Halvorsen & Park expect to finish in five years.",  # "five": not in the article
    "Mayor Helena Torres called the vote historic in 2019.",  # invented first name and year
    "Zebras enjoy quantum yodelling with 9 friends.",  # nothing in the article is close
]


def test_ungrounded_sentences_are_replaced_by_the_closest_source_sentence():
    out, origin, note = ground_sentences(DRAFT, headline="Bridge approved", source=BRIDGE)
    assert out[0] == DRAFT[0]
    assert out[1].startswith("Engineers from Halvorsen & Park, the firm that won the design contest in 2022")
    assert out[2].startswith("Mayor Ana Torres called the vote")
    assert len(out) == 3 and origin == [0, 1, 2]  # the zebras had no close sentence: dropped
    assert note["replaced"] == 2 and note["dropped"] == 1
    assert note["draft"]["ungrounded"] == ["five", "Helena Torres", "2019", "9"]
    assert note["ungrounded"] == [] and note["checked"] == note["grounded"] > 0
    assert note["source"] is True


def test_figures_each_in_the_source_but_never_together_are_replaced():
    mixed = "The bridge, completed in 2025, will carry 12,000 vehicles, and the city pays $25 million."
    fine = "Construction is due to begin in May 2025 and take three years."
    out, _, note = ground_sentences([mixed, fine], headline="Bridge approved", source=BRIDGE)
    assert note["mixed"] == 1 and note["replaced"] == 1
    assert out[0] != mixed and out[0] in BRIDGE.text and out[1] == fine
    assert note["draft"]["ungrounded"] == []  # every item was somewhere in the article


def test_unsourced_scripts_list_their_invented_items_and_keep_their_words():
    out, _, note = ground_sentences(DRAFT, headline="Riverside approves Clear River bridge", source=None)
    assert out == DRAFT
    assert note["source"] is False and note["replaced"] == 0
    assert note["ungrounded"] == ["$40 million", "Halvorsen & Park", "five", "Helena Torres", "2019", "9"]
    assert note["grounded"] == note["checked"] - 6  # "Riverside" and "Clear River" are the headline's


def test_the_users_own_words_are_checked_never_rewritten():
    script = Script(headline="h", title="Bridge", sentences=DRAFT, image_prompt="p", notes={"verbatim": True})
    grounded = ground_script(script, headline="Bridge approved", source=BRIDGE)
    assert grounded.sentences == DRAFT
    assert grounded.notes["grounding"]["verbatim"] is True
    assert grounded.notes["grounding"]["ungrounded"] == ["five", "Helena Torres", "2019", "9"]


def test_scenes_follow_their_sentences_and_an_invented_title_goes():
    scenes = [Scene(sentences=[0, 1], image_prompt="one"), Scene(sentences=[2, 3], image_prompt="two")]
    script = Script(headline="h", title="Bridge opens in 2031", sentences=DRAFT, image_prompt="p", scenes=scenes)
    grounded = ground_script(script, headline="Council approves bridge", source=BRIDGE)
    assert [s.sentences for s in grounded.scenes] == [[0, 1], [2]]
    assert [s.image_prompt for s in grounded.scenes] == ["one", "two"]
    assert grounded.title == "Council approves bridge"
    assert grounded.notes["grounding"]["title_replaced"] == "Bridge opens in 2031"


def test_a_script_with_nothing_left_says_the_articles_first_sentence():
    short = Source(kind="file", file="s.txt", text="The Riverside city council voted on Tuesday. It was close.")
    out, origin, note = ground_sentences(["Zebras like 7 hats."], headline="Vote", source=short)
    assert out == ["The Riverside city council voted on Tuesday."] and origin == [None]
    assert note["dropped"] == 1


# ---------------------------------------------------------------------------------------------------------------------
# Through the runner: every provider's script, run.json and the manifest


def test_every_provider_is_checked_and_run_json_and_the_manifest_say_so(test_plugin, isolated_config, tmp_path):
    # the test plugin's `echo` provider knows nothing of grounding: the stage contract checks it anyway
    plain = make_video("Breakthrough in Mars Project", out=tmp_path / "plain", providers=TEST_PROVIDERS)
    note = plain.record["stages"]["script"]["notes"]["grounding"]
    assert note["source"] is False and note["ungrounded"] == ["0"]  # "Seed 0 says hello."
    side = json.loads((tmp_path / "plain" / "provenance.json").read_text())
    source = {a["label"]: a["data"] for a in side["assertions"]}["org.newsreel.source"]
    assert source["sourced"] is False and source["invented"] == ["0"] and "invented" in source["note"]
    assert plain.record["source"] is None

    sourced = make_video(None, out=tmp_path / "sourced", providers=TEST_PROVIDERS, source=BRIDGE)
    note = sourced.record["stages"]["script"]["notes"]["grounding"]
    assert note["source"] is True and note["dropped"] == 1 and note["ungrounded"] == []
    script = json.loads((tmp_path / "sourced" / "script.json").read_text())
    assert script["sentences"] == [BRIDGE.title + ".", "That is all."]  # "Seed 0 says hello." has no close match
    side = json.loads((tmp_path / "sourced" / "provenance.json").read_text())
    source = {a["label"]: a["data"] for a in side["assertions"]}["org.newsreel.source"]
    assert source["sourced"] is True and source["grounding"]["draft"]["ungrounded"] == ["0"]
