"""Scripts written from an article (`pipeline.sources.Source`): what every built-in script provider shares.

A small model cannot be trusted with facts, but it can restate facts it is given. So the article's lead (the first
paragraphs, about LEAD_WORDS words: SmolLM2's 8k-token context would take more, but its output drifts on long
input) goes into `templates/script_from_source.j2`, and the model is asked to shorten and reorder it, adding
nothing. A draft that comes out short is filled with the article's own next sentences. Whatever the model still
invents is caught afterwards by the grounding check every script passes (pipeline/grounding.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _text

if TYPE_CHECKING:
    from ...sources.model import Source

LEAD_WORDS = 350  # of the article the model is shown
TEMPLATE = "script_from_source.j2"
# Restating is copying with cuts: a low temperature, and no repetition penalty (it would push the model away from the
# article's own words, names and numbers, which are in the prompt). Measured on the sample articles: at 0.7 with the
# 1.1 penalty SmolLM2 invents dates and figures; greedy without a penalty loops; 0.3 without one restates.
RESTATING_TEMPERATURE = 0.3
RESTATING_REPETITION_PENALTY = 1.0


def restating(temperature: float) -> dict[str, float]:
    """Sampling for restating an article: the provider's temperature, at most RESTATING_TEMPERATURE."""
    return {"temperature": min(temperature, RESTATING_TEMPERATURE), "repetition_penalty": RESTATING_REPETITION_PENALTY}


def article_sentences(source: "Source") -> list[str]:
    """The article's sentences, in order (paragraphs always end a sentence)."""
    sentences: list[str] = []
    for paragraph in source.text.split("\n\n"):
        sentences.extend(_text.split_sentences(paragraph))
    return sentences


def lead(source: "Source", words: int = LEAD_WORDS) -> str:
    """The article's first paragraphs, whole sentences only, about `words` words (at least one sentence)."""
    kept: list[str] = []
    count = 0
    for paragraph in source.text.split("\n\n"):
        sentences = _text.split_sentences(paragraph)
        taken = []
        for sentence in sentences:
            size = _text.count_words(sentence)
            if kept or taken:
                if count + size > words:
                    break
            taken.append(sentence)
            count += size
        if taken:
            kept.append(" ".join(taken))
        if len(taken) < len(sentences) or count >= words:
            break
    return "\n\n".join(kept)


def lead_sentences(source: "Source", words: int) -> list[str]:
    """The article's leading sentences, as close to `words` words as whole sentences allow (the `text` provider's
    narration when the user wrote none)."""
    return _text.fit_budget(article_sentences(source), words)


def prompt(source: "Source", *, words: int, language: str, structured: bool) -> str:
    return _text.render(TEMPLATE, title=source.title or "", article=lead(source), words=words, language=language,
                        structured=structured)


def fill_from_article(sentences: list[str], source: "Source", words: int) -> list[str]:
    """`sentences`, then the article's own sentences that repeat none of them, in the article's order, until the
    word budget is met: a short draft grows with facts, never with invention."""
    out = list(sentences)
    total = _text.count_words(" ".join(out))
    said = _content_words(" ".join(out))
    for sentence in article_sentences(source):
        if total >= words:
            break
        own = _content_words(sentence)
        if not own or len(own & said) >= COVERED * len(own) or _text.is_near_duplicate(sentence, out, threshold=0.6):
            continue  # the draft already says it (mostly in the same words)
        out.append(sentence)
        said |= own
        total += _text.count_words(sentence)
    return out


COVERED = 0.5  # an article sentence half of whose content words the draft already has is not added again


def _content_words(text: str) -> set[str]:
    """Lower-case words of four letters or more, and numbers: what a sentence says, roughly."""
    return {w for w in re.findall(r"[^\W_]+", text.casefold()) if len(w) >= 4 or w.isdigit()}


Generate = Callable[[str, int, int], tuple[str, bool]]  # (prompt, max new tokens, seed) -> (text, finished)


def write_local(
    generate: Generate,
    *,
    headline: str,
    source: "Source",
    words: int,
    language: str,
    seed: int,
    tokens_per_word: float,
    max_tokens: int,
    progress: Callable[[float, str], None],
    passage_seed: Callable[[int, int], int],
) -> tuple[list[str], dict[str, Any]]:
    """The local model's script from `source`: one restating passage (a second, with another seed, if the first
    gave nothing usable), then filled from the article up to the budget and cut to it. Returns (sentences, notes)."""
    text = prompt(source, words=words, language=_text.language_name(language), structured=False)
    cap = min(max_tokens, math.ceil(words * tokens_per_word * 1.25) + 16)
    sentences: list[str] = []
    for attempt in range(2):
        progress(0.1 + 0.4 * attempt, f"restating the article (try {attempt + 1})")
        raw, finished = generate(text, cap, passage_seed(seed, attempt))
        sentences = _text.clean_sentences(raw, echoes=[headline, text, source.title or ""], complete=finished)
        sentences = _text.merge_new([], sentences)
        if sentences:
            break
    drafted = _text.count_words(" ".join(sentences))
    filled = fill_from_article(sentences, source, words)
    notes = {"from_source": {"model_words": drafted, "article_sentences_added": len(filled) - len(sentences),
                             "lead_words": _text.count_words(lead(source))}}
    return _text.fit_budget(filled, words, 0.10), notes
