"""Every built-in script provider receives the article: `text` reads its lead, `openai` gets it in its prompt, `local`
restates it (its model replaced here by a stub; benchmarks/grounding.py runs the real one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.providers.script import _sourced, _text
from pipeline.providers.script.local import LocalScript
from pipeline.providers.script.openai import OpenAIScript
from pipeline.providers.script.text import TextScript
from pipeline.sources.article import read_article
from tests.fake_openai import FakeOpenAI
from tests.sources.article_server import ARTICLES

SHIP = read_article(ARTICLES / "08-shipwreck.md")
LONG = read_article(ARTICLES / "01-bridge.md")


def progress(fraction: float, message: str = "") -> None:
    pass


def test_the_lead_is_whole_sentences_of_the_first_paragraphs():
    lead = _sourced.lead(LONG, 120)
    assert LONG.text.startswith(lead.split("\n\n")[0])
    assert 100 <= _text.count_words(lead) <= 120
    assert lead.endswith((".", '"', "”"))
    assert _sourced.lead(LONG, 5).startswith("The Riverside city council voted 7 to 2")  # at least one sentence
    assert _text.count_words(_sourced.lead(LONG)) <= _sourced.LEAD_WORDS


def test_text_provider_reads_the_articles_lead_when_given_no_narration(tmp_path):
    script = TextScript({"words": 60}).run(headline="Old ship found", workdir=tmp_path, progress=progress, source=SHIP)
    assert script.sentences[0] == ("Marine archaeologists have found the wreck of a Dutch merchant ship that sank off "
                                   "the island of Gullholm in 1672, the Nordic Maritime Museum said on Friday.")
    assert " ".join(script.sentences) in SHIP.text.replace("\n\n", " ")
    assert 50 <= script.word_count <= 66
    own = TextScript({"text": "My own words. Nothing else."}).run(
        headline="Old ship found", workdir=tmp_path, progress=progress, source=SHIP)
    assert own.sentences == ["My own words.", "Nothing else."]  # the user's narration wins


def test_openai_gets_the_article_in_its_prompt(tmp_path):
    sentences = ["Divers found a Dutch ship that sank in 1672."]
    answer = {"title": "Ship found", "sentences": sentences, "image_prompt": "sea"}
    reply = {"id": "1", "object": "chat.completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(answer)},
                          "finish_reason": "stop"}]}
    with FakeOpenAI(lambda body, n: (200, reply)) as server:
        provider = OpenAIScript({"base_url": server.base_url, "words": 80}, secrets={"OPENAI_API_KEY": "sk-x"})
        script = provider.run(headline="Old ship found", workdir=tmp_path, progress=progress, source=SHIP)
    prompt = server.requests[0]["json"]["messages"][-1]["content"]
    assert SHIP.title in prompt and "Freya Lindahl" in prompt and "add nothing" in prompt
    assert _sourced.lead(SHIP) in prompt
    assert script.sentences == ["Divers found a Dutch ship that sank in 1672."]


class StubbedLocal(LocalScript):
    """The local provider with its model replaced: `_load` gives nothing, `_generate` records the prompt."""

    answer = ("Divers found the wreck of a Dutch merchant ship off Gullholm. It sank in 1672. "
              "The ship is the Golden Heron, museum historians believe.")

    def _load(self, progress):
        from types import SimpleNamespace

        self._loaded = SimpleNamespace(label="stub")  # what the log line names
        return self._loaded

    def _generate(self, prompt, max_new_tokens, seed, temperature=None, repetition_penalty=1.1, settled=None):
        self.calls = [*getattr(self, "calls", []), (prompt, temperature, repetition_penalty)]
        return self.answer, True


def test_local_restates_the_article_then_fills_from_it(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.providers.script.local.use_one_thread_unless_told", lambda: None)
    provider = StubbedLocal({"words": 90}, models_dir=tmp_path)
    script = provider.run(headline="Old ship found", workdir=tmp_path, progress=progress, source=SHIP)
    ((prompt, temperature, penalty),) = provider.calls
    assert prompt.startswith(SHIP.title) and _sourced.lead(SHIP) in prompt and "Summarize this news article" in prompt
    assert (temperature, penalty) == (0.3, 1.0)
    assert script.sentences[:3] == ["Divers found the wreck of a Dutch merchant ship off Gullholm.", "It sank in 1672.",
                                    "The ship is the Golden Heron, museum historians believe."]
    # filled from the article, skipping its first sentence (the model already said it)
    assert script.sentences[3].startswith("A team of six divers led by archaeologist Freya Lindahl")
    assert 70 <= script.word_count <= 99  # whole sentences, near the 90-word budget
    assert script.notes["from_source"]["model_words"] == 24


def test_local_without_an_article_uses_the_headline_prompt(tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.providers.script.local.use_one_thread_unless_told", lambda: None)
    provider = StubbedLocal({"words": 20}, models_dir=tmp_path)
    provider.run(headline="Old ship found", workdir=tmp_path, progress=progress)
    prompt, temperature, penalty = provider.calls[0]
    assert '"Old ship found"' in prompt and (temperature, penalty) == (None, 1.1)


@pytest.mark.parametrize("cls", [LocalScript, OpenAIScript, TextScript])
def test_built_in_script_providers_declare_they_take_the_source(cls):
    assert cls.takes_source is True


def test_the_source_template_is_in_the_prompt_key():
    assert "script_from_source.j2" in _text.PROMPT_TEMPLATES
    said = LocalScript({}, models_dir=Path("/nonexistent")).provenance()["prompt_templates_sha256"]
    assert "script_from_source.j2" in said
