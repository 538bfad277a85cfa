"""The grounding check every script passes: are its facts in the source?

A small model cannot be trusted with facts; a check can prove what it kept. Every number, percentage, money amount,
date, time and proper name in the script is looked up in the source article (and the headline, which the user
gave), tolerant of how it is written: "$40M" = "$40 million" = "40 million dollars" = "US$40,000,000"; "71%" =
"71 percent"; "March 3" = "3 March" = "3rd of March"; "1,200" = "1200" = "1.2 thousand"; "three" = "3"; "Mars'" =
"Mars's" = "Mars". A sentence holding an item the source does not give is replaced by the source sentence closest to
it (most content words in common), or dropped when none is close; what is left ungrounded is listed. Without a
source the run is unsourced: nothing can be replaced, and every item the headline does not give is listed as
invented. The verdict goes into the script's notes as `grounding`, which run.json and the manifest show.

It runs in the script stage's contract (`pipeline/stages/__init__.py`, `Stage.finish`), after whichever provider
wrote the script, so it applies to every script provider, third-party ones included. A provider whose script is the
user's own words (`notes["verbatim"]`, the `text` provider's narration) is checked but never rewritten.

Plain string work: no model, no provider imports.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .sources.model import Source

GROUNDING_VERSION = "2"  # part of the script stage's cache key: a changed check writes new scripts
MAX_LISTED = 40  # ungrounded items listed in run.json
MIN_SHARED = 2  # content words (or items) a replacement must share with the sentence it replaces

Kind = Literal["money", "percent", "number", "date", "month", "weekday", "time", "name"]

# ---------------------------------------------------------------------------------------------------------------------
# Vocabulary

MONTHS = {
    name: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        start=1,
    )
    for name in names
}
WEEKDAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
SCALES = {"hundred": Decimal(100), "thousand": Decimal(10) ** 3, "million": Decimal(10) ** 6,
          "billion": Decimal(10) ** 9, "trillion": Decimal(10) ** 12}
SHORT_SCALES = {"k": SCALES["thousand"], "m": SCALES["million"], "mn": SCALES["million"], "mln": SCALES["million"],
                "b": SCALES["billion"], "bn": SCALES["billion"], "tn": SCALES["trillion"], "t": SCALES["trillion"]}
SYMBOLS = {"$": "dollar", "us$": "dollar", "a$": "dollar", "c$": "dollar", "nz$": "dollar", "hk$": "dollar",
           "€": "euro", "£": "pound", "¥": "yen", "₹": "rupee", "₩": "won", "chf": "franc", "usd": "dollar",
           "eur": "euro", "gbp": "pound", "jpy": "yen", "inr": "rupee", "sek": "crown", "nok": "crown", "dkk": "crown"}
CURRENCY_WORDS = {
    "dollar": "dollar", "dollars": "dollar", "euro": "euro", "euros": "euro", "pound": "pound", "pounds": "pound",
    "sterling": "pound", "yen": "yen", "yuan": "yuan", "renminbi": "yuan", "rupee": "rupee", "rupees": "rupee",
    "franc": "franc", "francs": "franc", "crown": "crown", "crowns": "crown", "krona": "crown", "kronor": "crown",
    "krone": "crown", "kroner": "crown", "won": "won", "peso": "peso", "pesos": "peso", "real": "real", "reais": "real",
    "rand": "rand", "naira": "naira", "shilling": "shilling", "shillings": "shilling", "usd": "dollar", "eur": "euro",
    "gbp": "pound",
}
# Words that start sentences without being names (a capitalised first word is a name only if it is not one of these
# and the texts never write it in lower case).
COMMON = frozenset("""a an the this that these those it its he she they we you i his her their our my your there
    here in on at by for from to of with without after before since during while when where as if but and or so yet
    also however meanwhile moreover furthermore additionally overall currently today tonight yesterday tomorrow now
    then still already according officials residents experts scientists researchers analysts critics supporters
    many most some several few all both each every no not one another other others such what which who whom whose
    why how despite although though because until unless once first second third last next new more less under over
    about around between among against across through into onto upon within earlier later recently finally instead
    in summary meanwhile indeed again good evening morning welcome thanks thank breaking news update report reports
    local national international government police""".split())
CONNECTORS = frozenset(("of", "de", "del", "della", "di", "da", "du", "van", "von", "der", "den", "la", "le", "al",
                        "bin", "ibn", "y", "&"))
HONORIFICS = frozenset(("mr", "mrs", "ms", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "st"))
_QUOTES = "\"'“”‘’«»"

# ---------------------------------------------------------------------------------------------------------------------
# Numbers


def to_decimal(digits: str) -> Decimal | None:
    """"1,200" -> 1200, "3.50" -> 3.5; None for what is not a number."""
    text = digits.replace(",", "").replace("\u202f", "").replace("\u00a0", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value.normalize() if value.is_finite() else None


def _norm(value: Decimal) -> Decimal:
    """One spelling per value (1.50 == 1.5 == 1.5E0), for sets and equality."""
    value = value.normalize()
    try:
        return value.quantize(Decimal(1)) if value == value.to_integral() else value
    except InvalidOperation:  # more digits than the context holds: an absurd number, compared as it is
        return value


def words_number(text: str) -> Decimal | None:
    """"forty-five" -> 45, "two hundred thousand" -> 200000, "three" -> 3; None when `text` is not all number words."""
    total, current, seen = Decimal(0), Decimal(0), False
    for word in re.split(r"[\s\-]+", text.casefold()):
        if not word or word == "and":
            continue
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in SCALES:
            total += (current or 1) * SCALES[word]
            current = Decimal(0)
        else:
            return None
        seen = True
    return _norm(total + current) if seen else None


_NUMWORD = "|".join(sorted([*UNITS, *TENS], key=len, reverse=True))
_SCALEWORD = "hundred|thousand|million|billion|trillion"
_SPELLED = rf"(?:(?:{_NUMWORD})(?:[\s\-]+(?:and\s+)?(?:{_NUMWORD}|{_SCALEWORD}))*)"
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
# "$40 million", "$40M", "$40 mln"
_SCALE = rf"(?:[\s\-]*(?P<scale>{_SCALEWORD})\b|\s?(?P<short>k|m|mn|mln|bn|b|tn)\b)"
_SCALE_WORD = rf"(?:[\s\-]*(?P<scale>{_SCALEWORD})\b)"  # a bare "34m" is metres as often as millions
_SYMBOL = (r"(?P<symbol>US\$|A\$|C\$|NZ\$|HK\$|\$|€|£|¥|₹|₩|"
           r"USD\s?|EUR\s?|GBP\s?|CHF\s?|JPY\s?|INR\s?|SEK\s?|NOK\s?|DKK\s?)")
_CURRENCIES = "|".join(sorted(CURRENCY_WORDS, key=len, reverse=True))
_CURRENCY_AFTER = rf"(?:[\s\-]+(?:US\s+)?(?P<currency>{_CURRENCIES})\b)"

MONEY_BEFORE = re.compile(rf"{_SYMBOL}\s?(?P<num>{_DIGITS}){_SCALE}?", re.IGNORECASE)
MONEY_AFTER = re.compile(
    rf"\b(?P<num>{_DIGITS}|{_SPELLED})(?:{_SCALE})?(?:\s+of)?{_CURRENCY_AFTER}", re.IGNORECASE)
CENTS = re.compile(rf"\b(?P<num>{_DIGITS}|{_SPELLED})\s+cents?\b", re.IGNORECASE)
PERCENT = re.compile(
    rf"\b(?P<num>{_DIGITS}|{_SPELLED}){_SCALE_WORD}?\s*(?:%|per\s?cent\b|percentage\s+points?\b|pct\b)",
    re.IGNORECASE)
TIME = re.compile(r"\b(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?:\s*(?P<ampm>[ap]\.?\s?m\b\.?))?", re.IGNORECASE)
TIME_DOT = re.compile(r"\b(?P<h>\d{1,2})\.(?P<m>[0-5]\d)\s*(?P<ampm>[ap]\.?\s?m\b\.?)", re.IGNORECASE)
TIME_AMPM = re.compile(r"\b(?P<h>\d{1,2})\s*(?P<ampm>[ap]\.?\s?m\.?)(?=\W|$)", re.IGNORECASE)
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_MD = re.compile(rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:%|per\b|,\d))",
                     re.IGNORECASE)
DATE_DM = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH})\b", re.IGNORECASE)
NUMBER = re.compile(
    rf"(?:(?<![\w.])(?P<num>{_DIGITS})(?:st|nd|rd|th)?|\b(?P<spelled>{_SPELLED})){_SCALE_WORD}?(?![\w])", re.IGNORECASE)


def _scaled(match: re.Match[str]) -> Decimal | None:
    raw = match.group("num")
    value = to_decimal(raw) if re.match(r"[\d.]", raw) else words_number(raw)
    if value is None:
        return None
    scale = (match.groupdict().get("scale") or "").casefold()
    short = (match.groupdict().get("short") or "").casefold()
    if scale:
        value *= SCALES[scale]
    elif short:
        value *= SHORT_SCALES[short]
    return _norm(value)


# ---------------------------------------------------------------------------------------------------------------------
# Items


@dataclass(frozen=True)
class Item:
    kind: Kind
    text: str  # as the script writes it
    key: tuple[Any, ...]  # what it means, whatever the spelling
    start: int = field(default=0, compare=False)  # where it begins in the text


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


def extract(text: str, context: str | None = None) -> list[Item]:
    """Every specific item in `text`: money, percentages, dates, times, numbers, proper names, in that order of
    precedence (a money amount's number is not a number of its own). `context` (the whole script or article `text`
    is part of) decides whether a capitalised single word opening a sentence is a name: it is when `context` also
    writes it capitalised inside a sentence, or it is an acronym."""
    text = unicodedata.normalize("NFKC", text)
    items: list[Item] = []
    taken: list[tuple[int, int]] = []

    def add(kind: Kind, m: re.Match[str], key: tuple[Any, ...] | None) -> None:
        if key is None or _overlaps(m.span(), taken):
            return
        taken.append(m.span())
        items.append(Item(kind, m.group(0).strip(), key, m.start()))

    for m in MONEY_BEFORE.finditer(text):
        value = _scaled(m)
        symbol = m.group("symbol").strip().casefold()
        add("money", m, ("money", SYMBOLS.get(symbol, symbol), value) if value is not None else None)
    for m in MONEY_AFTER.finditer(text):
        value = _scaled(m)
        add("money", m, ("money", CURRENCY_WORDS[m.group("currency").casefold()], value) if value is not None else None)
    for m in CENTS.finditer(text):
        value = _scaled(m)
        add("money", m, ("money", "dollar", _norm(value / 100)) if value is not None else None)
    for m in PERCENT.finditer(text):
        value = _scaled(m)
        add("percent", m, ("percent", value) if value is not None else None)
    for pattern in (DATE_MD, DATE_DM):
        for m in pattern.finditer(text):
            month, day = MONTHS[m.group("month").casefold()], int(m.group("day"))
            if not m.group("month")[0].isupper() or not 1 <= day <= 31:
                continue  # "may 3 more", or not a day
            add("date", m, ("date", month, day))
    for pattern in (TIME, TIME_DOT, TIME_AMPM):
        for m in pattern.finditer(text):
            hour, minute = int(m.group("h")), int(m.groupdict().get("m") or 0)
            ampm = (m.group("ampm") or "").casefold().replace(".", "").replace(" ", "")
            if ampm == "pm" and hour < 12:
                hour += 12
            if hour > 24:
                continue
            add("time", m, ("time", hour % 24, minute))
    for m in NUMBER.finditer(text):
        if m.group("spelled"):
            value = words_number(m.group(0))
            if value is None or (value < 2 and not re.search(_SCALEWORD, m.group(0), re.IGNORECASE)):
                continue  # "one of", "zero": not a claim worth checking
        else:
            value = _scaled(m)
        add("number", m, ("number", value) if value is not None else None)
    items.extend(_months_and_names(text, taken, _inner_capitals(context if context is not None else text)))
    return sorted(items, key=lambda item: item.start)


def _inner_capitals(text: str) -> frozenset[str]:
    """Words `text` writes capitalised inside a sentence (not as its first word): its names."""
    found = set()
    previous_end = 0
    text = unicodedata.normalize("NFKC", text)
    for m in _WORD.finditer(text):
        gap = text[previous_end:m.start()]
        first = previous_end == 0 or bool(re.search(r"[.!?:;" + _QUOTES + r"(]\s*$", gap)) or "\n" in gap
        if not first and m.group(0)[0].isupper():
            found.add(m.group(0).casefold())
        previous_end = m.end()
    return frozenset(found)


_WORD = re.compile(r"[^\W\d_](?:[\w’'.&-]*[^\W_])?|&", re.UNICODE)


def _months_and_names(text: str, taken: list[tuple[int, int]], names: frozenset[str]) -> list[Item]:
    """Month and weekday names outside dates, and proper names: runs of capitalised words (with "of", "de", "van"
    ... inside). A sentence's first word starts a name only when it is no common word; alone, it is a name only when
    it is an acronym or `names` (words written capitalised inside sentences) has it: "Rates rose" is no name."""
    items: list[Item] = []
    run: list[tuple[str, int, int]] = []
    run_opens_sentence = False

    def flush() -> None:
        while run and run[-1][0].casefold() in CONNECTORS:
            run.pop()
        if run and run_opens_sentence:  # "Architect Helena Torres": the opening word is a name only if known as one
            word = run[0][0]
            if not (word.isupper() and len(word) > 1) and word.casefold() not in names:
                run.pop(0)
                while run and run[0][0].casefold() in CONNECTORS:
                    run.pop(0)
        if run:
            words = [w for w, _, _ in run]
            key = ("name", tuple(_name_word(w) for w in words if w.casefold() not in CONNECTORS))
            items.append(Item("name", text[run[0][1]:run[-1][2]], key, run[0][1]))
        run.clear()

    previous_end = 0
    after_honorific = False
    for m in _WORD.finditer(text):
        word, start, end = m.group(0), m.start(), m.end()
        gap = text[previous_end:start]
        starts_sentence = not after_honorific and (
            previous_end == 0 or bool(re.search(r"[.!?:;]\s*[" + _QUOTES + r"(]*\s*$", gap))
            or bool(re.search(r"[" + _QUOTES + r"]\s*$", gap)))
        after_honorific = word.casefold() in HONORIFICS
        if run and (gap.strip(" ") or starts_sentence):
            flush()  # a comma, a full stop or a bracket ends a name
        previous_end = end
        if _overlaps((start, end), taken):
            flush()
            continue
        folded = word.casefold().rstrip(".")
        if folded in MONTHS and word[0].isupper() and len(folded) > 4:  # full names; "Mar", "May" only in dates
            flush()
            items.append(Item("month", word, ("month", MONTHS[folded]), start))
            continue
        if folded == "may" and word == "May" and not starts_sentence:
            flush()
            items.append(Item("month", word, ("month", 5), start))
            continue
        if folded in WEEKDAYS and word[0].isupper():
            flush()
            items.append(Item("weekday", word, ("weekday", WEEKDAYS[folded]), start))
            continue
        capital = word[0].isupper()
        if folded in CONNECTORS and run:
            run.append((word, start, end))
            continue
        if not capital:
            flush()
            continue
        if starts_sentence and (folded in COMMON or _looks_common(folded)):
            flush()
            continue
        if folded in HONORIFICS or folded.rstrip(".") in HONORIFICS:
            continue  # "Dr. Helen Okafor" is Helen Okafor
        if word == "I":
            continue
        if not run:
            run_opens_sentence = starts_sentence
        run.append((word, start, end))
    flush()
    return items


def _looks_common(word: str) -> bool:
    return word.endswith("ly") and len(word) > 4


def _name_word(word: str) -> str:
    """How a word of a name is compared: case-folded, without a possessive ("Mars'", "Mars's" -> "mars") or dots."""
    w = unicodedata.normalize("NFKC", word).casefold().replace("’", "'")
    for tail in ("'s", "'"):
        if w.endswith(tail):
            w = w[: -len(tail)]
    return w.replace(".", "")


def _variants(word: str) -> set[str]:
    """A word and its plain plural/singular forms, for inflection-tolerant lookups."""
    out = {word}
    if len(word) > 3 and word.endswith("es"):
        out.add(word[:-2])
    if len(word) > 3 and word.endswith("s"):
        out.add(word[:-1])
    out.add(word + "s")
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Evidence


@dataclass
class Evidence:
    """What the source (and the headline) give: every item's key, every number's value, every word."""

    keys: set[tuple[Any, ...]] = field(default_factory=set)
    values: set[Decimal] = field(default_factory=set)  # every number, money amount and percentage, as a value
    words: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, *texts: str) -> "Evidence":
        found = cls()
        for text in texts:
            if not text:
                continue
            for item in extract(text):
                found.keys.add(item.key)
                if item.kind in ("money", "percent", "number"):
                    found.values.add(item.key[-1])
                if item.kind == "date":
                    found.keys.add(("month", item.key[1]))
                    found.values.add(Decimal(item.key[2]))
            for word in _WORD.findall(unicodedata.normalize("NFKC", text)):
                found.words |= _variants(_name_word(word))
            for m in re.finditer(rf"\b(?:{_NUMWORD})\b", text, re.IGNORECASE):  # "three" grounds "3"
                value = words_number(m.group(0))
                if value is not None:
                    found.values.add(value)
        return found

    def grounds(self, item: Item) -> bool:
        if item.key in self.keys:
            return True
        kind = item.kind
        if kind == "money":  # the same amount in the same currency, or the amount with no currency said
            return ("number", item.key[2]) in self.keys
        if kind == "number":  # any number, amount or percentage of that value ("40 million" in "$40 million")
            return item.key[1] in self.values
        if kind == "percent":  # the same value written without the percent sign
            return ("number", item.key[1]) in self.keys
        if kind == "name":  # every word of it, in any inflection ("Okafor" for "Dr. Helen Okafor" needs both)
            words = [w for w in item.key[1] if w]
            return bool(words) and all(_variants(w) & self.words for w in words)
        return False  # dates, times, months, weekdays: only the same one (any spelling) grounds them


# ---------------------------------------------------------------------------------------------------------------------
# The check


@dataclass
class Verdict:
    checked: int
    grounded: int
    ungrounded: list[str]


def check(sentences: list[str], evidence: Evidence) -> tuple[Verdict, list[list[Item]]]:
    """Each sentence's ungrounded items, and the counts over all of them."""
    checked = grounded = 0
    missing: list[list[Item]] = []
    listed: list[str] = []
    context = " ".join(sentences)
    for sentence in sentences:
        bad = []
        for item in extract(sentence, context):
            checked += 1
            if evidence.grounds(item):
                grounded += 1
            else:
                bad.append(item)
                if item.text not in listed:
                    listed.append(item.text)
        missing.append(bad)
    return Verdict(checked, grounded, listed), missing


def split_sentences(text: str) -> list[str]:
    """The source's sentences (paragraphs always end one): a plain splitter, no abbreviations list needed here, as
    candidates are whole source sentences either way."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        parts = re.split(r"(?:(?<=[.!?])|(?<=[.!?][\"”’')\]]))\s+(?=[\"“‘(\[]?[A-Z0-9])", paragraph.strip())
        merged: list[str] = []
        for part in parts:  # "Dr. Helen" and "U.S. officials": glue a piece that ends in an abbreviation back on
            if merged and re.search(r"(?:\b[A-Z][a-z]{0,3}\.|\b(?:[A-Z]\.)+)$", merged[-1]):
                merged[-1] += " " + part
            else:
                merged.append(part)
        out.extend(p for p in merged if any(ch.isalpha() for ch in p))
    return out


def _content(text: str) -> set[str]:
    return {w for w in (_name_word(x) for x in _WORD.findall(text)) if len(w) > 3 and w not in COMMON} | {
        str(i.key) for i in extract(text) if i.kind != "name"}


def closest(sentence: str, candidates: list[str], used: set[int]) -> int | None:
    """The index of the unused candidate sharing the most content words and items with `sentence` (Jaccard), or None
    when none shares at least MIN_SHARED."""
    mine = _content(sentence)
    best, best_score = None, 0.0
    for i, candidate in enumerate(candidates):
        if i in used:
            continue
        theirs = _content(candidate)
        shared = len(mine & theirs)
        if shared < MIN_SHARED:
            continue  # one word in common is chance, not the same subject
        score = shared / len(mine | theirs)
        if score > best_score:
            best, best_score = i, score
    return best


def ground_sentences(sentences: list[str], *, headline: str, source: "Source | None", verbatim: bool = False
                     ) -> tuple[list[str], list[int | None], dict[str, Any]]:
    """(new sentences, for each new sentence the index of the script sentence it stands for (None: taken from the
    source), the `grounding` note). With a source, a sentence is replaced when an item of it is not in the source, or
    when its figures are each in the source but in no one paragraph together (`mixed`: the small model's commonest
    slip is joining a number from one fact to another)."""
    evidence = Evidence.of(headline, *(() if source is None else (source.title or "", source.text)))
    draft, missing = check(sentences, evidence)
    out, origin = list(sentences), list(range(len(sentences)))
    replaced = dropped = 0
    mixed: list[str] = []
    if source is not None:
        together = _together(sentences, missing, headline, source)
        mixed = [s for s, ok in zip(sentences, together) if not ok]
    if source is not None and not verbatim:
        candidates = split_sentences(source.text)
        used = {i for i, c in enumerate(candidates) if any(_same(c, s) for s in sentences)}
        out, origin = [], []
        for i, (sentence, bad) in enumerate(zip(sentences, missing)):
            if not bad and sentence not in mixed:
                out.append(sentence)
                origin.append(i)
                continue
            pick = closest(sentence, candidates, used)
            if pick is None:
                dropped += 1
                continue
            used.add(pick)
            out.append(candidates[pick])
            origin.append(i)
            replaced += 1
        if not out:  # nothing the model wrote survived: the article's first sentence
            out, origin = [candidates[0] if candidates else headline], [None]
    final, _ = check(out, evidence)
    note: dict[str, Any] = {
        "checked": final.checked,
        "grounded": final.grounded,
        "ungrounded": final.ungrounded[:MAX_LISTED],
        "replaced": replaced,
        "dropped": dropped,
        "mixed": len(mixed),  # sentences whose figures are each in the source, but never together
        "source": source is not None,
        "draft": {"checked": draft.checked, "grounded": draft.grounded, "ungrounded": draft.ungrounded[:MAX_LISTED]},
        "version": GROUNDING_VERSION,
    }
    if verbatim:
        note["verbatim"] = True
    return out, origin, note


FIGURES = ("money", "percent", "number", "date", "time")


def _together(sentences: list[str], missing: list[list[Item]], headline: str, source: "Source") -> list[bool]:
    """For each sentence: whether its figures (numbers, money, percentages, dates, times) that the source grounds
    appear together in one paragraph of it (or the headline, or the title). Each figure being somewhere is not
    enough: "the bridge, completed in 2025, will cost $25 million" can take 2025 and $25 million from different
    facts. A sentence with fewer than two figures passes."""
    paragraphs = [Evidence.of(p) for p in (headline, source.title or "", *source.text.split("\n\n")) if p]
    context = " ".join(sentences)
    verdict = []
    for sentence, bad in zip(sentences, missing):
        # digits and dates: "three-day" or "two parties" say too little to tie a sentence to one paragraph
        figures = [i for i in extract(sentence, context)
                   if i.kind in FIGURES and i not in bad and (i.kind == "date" or any(c.isdigit() for c in i.text))]
        keys = {i.key for i in figures}
        verdict.append(len(keys) < 2 or any(all(p.grounds(i) for i in figures) for p in paragraphs))
    return verdict


def _same(a: str, b: str) -> bool:
    return " ".join(_WORD.findall(a.casefold())) == " ".join(_WORD.findall(b.casefold()))


def ground_script(script: Any, *, headline: str, source: "Source | None" = None) -> Any:
    """The script stage's finishing step: `script` checked against the source and the headline, its ungrounded
    sentences replaced (when there is a source and the words are not the user's), the verdict in notes["grounding"].
    Scenes are remapped to the sentences that remain; the title is checked too and falls back to the headline."""
    notes = dict(getattr(script, "notes", None) or {})
    verbatim = bool(notes.get("verbatim"))
    sentences, origin, note = ground_sentences(list(script.sentences), headline=headline, source=source,
                                               verbatim=verbatim)
    title = script.title
    evidence = Evidence.of(headline, *(() if source is None else (source.title or "", source.text)))
    title_bad = [i.text for i in extract(title) if not evidence.grounds(i)]
    if title_bad:
        if source is not None and not verbatim:
            note["title_replaced"] = title
            title = _cut(headline)
        else:
            listed = note["ungrounded"]
            note["ungrounded"] = [*listed, *(t for t in title_bad if t not in listed)][:MAX_LISTED]
            note["checked"] += len(extract(title))
            note["grounded"] += len(extract(title)) - len(title_bad)
    notes["grounding"] = note
    data = script.model_dump()
    data.update(sentences=sentences, title=title, notes=notes, scenes=_remap(script, origin))
    return type(script).model_validate(data)


def _remap(script: Any, origin: list[int | None]) -> list[dict[str, Any]]:
    """The scenes for the new sentences: each new sentence joins the scene of the sentence it stands for (one taken
    from the source joins the scene before it); empty scenes go."""
    scenes = list(getattr(script, "scenes", None) or [])
    if len(scenes) <= 1:
        return []  # one scene: the Script's default covers every sentence
    scene_of = {i: n for n, scene in enumerate(scenes) for i in scene.sentences}
    members: list[list[int]] = [[] for _ in scenes]
    last = 0
    for new_index, old in enumerate(origin):
        n = scene_of.get(old, last) if old is not None else last
        n = max(n, last)  # scenes stay in order
        members[n].append(new_index)
        last = n
    return [{"sentences": m, "image_prompt": scene.image_prompt} for m, scene in zip(members, scenes) if m]


def _cut(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ,;:-") + "…"
