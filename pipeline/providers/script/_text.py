"""Text helpers shared by the script providers: prompt rendering, cleaning model output into narration sentences,
fitting a word budget, titles and image prompts. What a word and a sentence are is `pipeline.words`'s call.

Nothing here imports torch or a model: it is plain string work, and unit-tested on its own.
"""

from __future__ import annotations

import difflib
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from ...words import count_words, is_ideograph, split_sentences

if TYPE_CHECKING:
    from ...stages.script import Script

# --------------------------------------------------------------------------------------------------------------------
# Prompts


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from ...assets import TEMPLATES_DIR

    # Sandboxed, no autoescape (this is not HTML), strict: a misspelt variable is an error, not an empty string.
    # Values (the headline above all) are inserted as data: jinja2 never renders a value as a template.
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


PROMPT_TEMPLATES = ("script_prompt.j2", "script_continue.j2", "script_from_source.j2", "image_prompt.j2")  # built-ins



def templates_sha256() -> str:
    """One digest of the prompt templates the built-in script providers render. It is part of their cache keys:
    editing a prompt writes new scripts instead of serving ones written from the old prompt."""
    import hashlib

    from ...assets import TEMPLATES_DIR

    digest = hashlib.sha256()
    for name in PROMPT_TEMPLATES:
        digest.update(name.encode() + b"\0")
        try:
            digest.update((TEMPLATES_DIR / name).read_bytes())
        except OSError:
            digest.update(b"\0missing")
    return digest.hexdigest()


def templates_provenance(*names: str) -> dict[str, dict[str, str]]:
    """A script provider's provenance facts (`Provider.provenance()`): the sha256 of each prompt template it renders,
    {"prompt_templates_sha256": {name: sha256}}; a template missing from the install is left out."""
    from ...assets import TEMPLATES_DIR
    from ...hashing import sha256_file

    found = {name: TEMPLATES_DIR / name for name in names}
    return {"prompt_templates_sha256": {name: sha256_file(path) for name, path in found.items() if path.is_file()}}


def render(template: str, **values: object) -> str:
    """Render `templates/<template>` with `values`; surrounding whitespace stripped."""
    return _environment().get_template(template).render(**values).strip()


LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "nb": "Norwegian",
    "fi": "Finnish",
    "pl": "Polish",
    "cs": "Czech",
    "sk": "Slovak",
    "hu": "Hungarian",
    "ro": "Romanian",
    "el": "Greek",
    "tr": "Turkish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "he": "Hebrew",
    "fa": "Persian",
    "hi": "Hindi",
    "bn": "Bengali",
    "ur": "Urdu",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "vi": "Vietnamese",
    "th": "Thai",
    "id": "Indonesian",
    "ms": "Malay",
    "sw": "Swahili",
    "ca": "Catalan",
}


def language_name(code: str) -> str:
    """'en' -> 'English', 'pt-BR' -> 'Portuguese'; an unknown code is returned as given."""
    base = code.strip().replace("_", "-").split("-")[0].lower()
    return LANGUAGE_NAMES.get(base, code)


# --------------------------------------------------------------------------------------------------------------------
# Cleaning model output

_ITEM = "\x01"  # marks a line that was a list item: it is a sentence of its own
_PLACEHOLDER = "\x00"  # marks a sentence that held a fill-in-the-blank like "[Your Name]": it is dropped whole

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200e\u200f\u2060\ufeff\u00ad]")
_SPECIAL_TOKEN = re.compile(r"<\|[^|>]{0,40}\|>|</?s>")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()\s]*\))+\)")
_URL = re.compile(r"<?(?:https?://|ftp://|www\.)[^\s<>\"')\]]+>?", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_BRACKETED = re.compile(r"\[[^\[\]]*\]|\([^()]*\)|\{[^{}]*\}|（[^（）]*）|【[^【】]*】")
# Inside square brackets, these words make a stage direction ("[Music]", "[Cut to studio]"): removed. Anything else in
# square brackets is a fill-in-the-blank ("[Your Name]", "[city_name]") and spoils its sentence.
_DIRECTION_WORDS = re.compile(
    r"(?:^|[\W_])(?:music|musical|pause|pauses|beat|sfx|sound|sounds|applause|laughter|laughs|cheer|cheers|cheering|"
    r"crowd|silence|static|jingle|theme|intro|outro|cut|cuts|fade|fades|b-roll|broll|camera|cam|shot|graphic|graphics|"
    r"video|footage|clip|transition|break|commercial|visual|visuals|on-screen|screen|smiles?|nods?|turns?|"
    r"looks?|sighs?|breath|inhales?|end|start|begin|segment|scene|live|voice-?over|v\.?o\.?|off-camera|on camera)"
    r"(?=$|[\W_])",
    re.IGNORECASE,
)
# In parentheses these words make a fill-in-the-blank ("(insert name)"); other parentheses are asides or directions.
_PLACEHOLDER_WORDS = re.compile(
    r"(?:^|[\W_])(?:your|insert|name|tbd|xx+|placeholder|fill in)(?=$|[\W_])", re.IGNORECASE
)
_HASHTAG = re.compile(r"(?<![\w&])#[^\W\d_][\w]*")
_HEADING = re.compile(r"^\s*#{1,6}(?:\s|$)")
_RULE = re.compile(r"^\s*(?:[-*_=~]\s*){3,}$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+\u2022\u25cf\u25aa\u2023\u2043\u25e6>]+|\d{1,3}[.)]|[a-zA-Z][.)](?=\s))\s+")
_EMPHASIS = re.compile(r"\*+|`+|~~|(?<!\w)_+|_+(?!\w)")
_WHOLE_LINE_EMPHASIS = re.compile(r"^\s*(?:\*\*|__)(?P<body>.+?)(?:\*\*|__)\s*[:.]?\s*$")

# Lines that are about the text rather than part of it: dropped whole.
_DROP_LABELS = (
    r"title|headline|sub-?headline|subject|topic|caption|captions|note|notes|n\.?b|disclaimer|editor'?s note|"
    r"source|sources|references?|word count|words|length|duration|runtime|tags|keywords|hashtags|image prompt|"
    r"image|images|visuals?|b-roll|graphics?|on-screen text|on screen|lower third|chyron|music|sfx|"
    r"sound|sound effects?|"
    r"scene|setting|cut to|camera|shot|transition|fade in|fade out|date|time|location"
)
# Speaker labels and section names in front of narration: the label goes, the words stay.
_STRIP_LABELS = (
    r"anchor|news anchor|co-anchor|host|presenter|narrator|reporter|correspondent|voice-?over|v\.?o\.?|script|"
    r"news script|narration|text|body|report|news report|intro|introduction|outro|conclusion|closing|opening|"
    r"segment(?: \d+)?|part \d+|paragraph \d+|story|lead|speaker(?: \d+)?|breaking news|update|news"
)
_DROP_LINE = re.compile(
    rf"^\s*(?:{_DROP_LABELS})\s*(?:\d+\s*)?[:\uff1a]"
    r"|^\s*(?:dear|hi|hello)\b[^.!?]{0,60},\s*$"  # a letter's salutation: "Dear [Name],"
    r"|^\s*(?:sincerely|best regards|kind regards|warm regards|regards|yours truly|yours sincerely|best wishes|"
    r"cheers|best|thanks|thank you|with gratitude)\s*[,.!]?\s*$"  # sign-offs
    r"|^\s*p\.\s?s\.?(?:\s|$)",  # P.S.
    re.IGNORECASE,
)
# Sentences that talk about the text itself ("...that the previous sentence mentioned."), anywhere in them.
_META_ANYWHERE = re.compile(
    r"\b(?:previous|above|preceding|following|this|next|last|first|original) (?:sentence|paragraph|passage|prompt)s?\b"
    r"|\b(?:word count|the (?:user|assistant)|as an ai)\b",
    re.IGNORECASE,
)
# Sentences about the writing, not the news ("Please add a summary...", "I hope this message finds you well.").
_META_SENTENCE = re.compile(
    r"^(?:please|make sure|be sure|remember to|don't forget|do not forget|feel free|let me know|note that|"
    r"if you have any questions|if you need|i hope (?:this|that) (?:message|email|letter|note) finds you|"
    r"i hope this helps|as an ai|as a language model|word count|in summary,? this|"
    r"this (?:summary|article|script|response|passage|essay|poem|piece) (?:highlights|emphasi[sz]es|shows|is|was|will)|"
    r"this (?:script|report|text) (?:is|has|contains) (?:about )?\d+ words)\b",
    re.IGNORECASE,
)
_STRIP_LABEL = re.compile(
    rf"^\s*(?:{_STRIP_LABELS})\s*[:\uff1a]\s*|^\s*(?:{_STRIP_LABELS})\s+[-\u2013\u2014]\s+", re.IGNORECASE
)
_CAPS_SPEAKER = re.compile(r"^\s*[A-Z][A-Z .'\-]{1,30}:\s+")  # "JOHN SMITH: Good evening."

_PREAMBLE_WORDS = re.compile(
    r"^(?:(?:sure|certainly|of course|absolutely|okay|ok|alright|all right|great|yes|here you go|happy to help)"
    r"\b[!,.:\s]*)+",
    re.IGNORECASE,
)
_PREAMBLE_SENTENCE = re.compile(
    r"^(?:here(?:'s|\u2019s| is| are)|below is|the following is|i(?:'d|\u2019d| would) be (?:happy|glad) to|"
    r"i(?:'ll|\u2019ll| will| can)|let me|as requested)\b[^.!?:\n]*(?:[:.!]+|$)\s*",
    re.IGNORECASE,
)
_STOPS = tuple(".!?\u2026\u3002\uff01\uff1f\u061f\u06d4")
_END_PUNCT = _STOPS + tuple("\"'\u201d\u2019\u00bb)\u300d\u300f")


def may_end_sentence(piece: str) -> bool:
    """Whether a piece of model output can complete a sentence (a full stop of any script, or a line break, which
    ends a line's sentence): where a writer asks `budget_settled` whether to go on."""
    return "\n" in piece or any(stop in piece for stop in _STOPS)


def stop_here(settled: Callable[[str], bool] | None, decode: Callable[[list[int]], str], new: list[int]) -> bool:
    """Whether a model that has just chosen the tokens `new` stops writing: `settled` is asked, with the text so far,
    at each token that may end a sentence. Both runtimes of the local model stop through this, so at the same token."""
    return settled is not None and bool(new) and may_end_sentence(decode(new[-1:])) and settled(decode(new))


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    if ch in "\ufe0e\ufe0f\u200d\u20e3" or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True
    cat = unicodedata.category(ch)
    return cat == "Cs" or (cat == "So" and cp >= 0x2190)


def strip_emoji(text: str) -> str:
    return "".join(ch for ch in text if not _is_emoji(ch))


def _normal(text: str) -> str:
    """Lower-case letters and digits only, single-spaced: for comparing texts loosely."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split())


def _bracket(m: re.Match[str]) -> str:
    """A stage direction ("[Music]", "(pause)") or an aside is removed; a fill-in-the-blank ("[Your Name]",
    "[city_name]", "(insert date)") is replaced by a mark that makes its whole sentence go."""
    whole = m.group(0)
    inner = whole[1:-1]
    if whole[0] == "[":
        return " " if _DIRECTION_WORDS.search(inner) and not _PLACEHOLDER_WORDS.search(inner) else _PLACEHOLDER
    return _PLACEHOLDER if _PLACEHOLDER_WORDS.search(inner) else " "


def _clean_line(line: str) -> str | None:
    """One line of model output -> narration text, or None when the line is not narration at all. A list item
    comes back with a leading _ITEM mark."""
    if _HEADING.match(line) or _RULE.match(line):
        return None
    if _WHOLE_LINE_EMPHASIS.match(line) and not line.rstrip().rstrip("*_").endswith(_STOPS):
        return None  # "**Breaking News: Mars**" is a heading
    line, items = _LIST_MARKER.subn("", line)
    line = _EMPHASIS.sub("", line)
    for _ in range(3):  # nested brackets, innermost first
        line = _BRACKETED.sub(_bracket, line)
    line = re.sub(r"[\[\]{}()（）【】]", " ", line)  # unbalanced leftovers
    line = line.replace("|", " ")
    if _DROP_LINE.match(line):
        return None
    line = _STRIP_LABEL.sub("", line)
    line = _CAPS_SPEAKER.sub("", line)
    line = re.sub(r"\s+", " ", line).strip()
    line = re.sub(r"\s+([,.;:!?\u3002\uff01\uff1f\u061f])", r"\1", line)  # "said ." -> "said."
    line = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", line)  # ", ," left by removals
    line = line.strip(" ,;:-\u2013\u2014") if not line.endswith(":") else line.lstrip(" ,;:-\u2013\u2014")
    if not any(ch.isalpha() or ch == _PLACEHOLDER for ch in line):
        return None
    return _ITEM + line if items else line


def _strip_preamble(line: str) -> str:
    for _ in range(3):
        new = _PREAMBLE_WORDS.sub("", line)
        new = _PREAMBLE_SENTENCE.sub("", new) if _PREAMBLE_SENTENCE.match(new) and _preamble_like(new) else new
        if new == line:
            break
        line = new.strip()
    return line


def _preamble_like(text: str) -> bool:
    """'Here is a news report about X:' is a preamble; 'Here is what we know.' ends with a full stop but is short
    and about the writing, so only strip sentences that mention the writing or end in a colon."""
    first = re.match(r"[^.!?:\n]*[:.!]*", text)
    sentence = first.group(0) if first else text
    return sentence.rstrip().endswith(":") or bool(
        re.search(
            r"\b(?:script|report|narration|story|segment|version|draft|article|piece|broadcast|bulletin|"
            r"news|help|write|words?)\b",
            sentence,
            re.IGNORECASE,
        )
    )


def clean_sentences(raw: str, echoes: Iterable[str] = (), complete: bool = True) -> list[str]:
    """Model output -> narration sentences fit to be read aloud and shown as captions.

    Removes markdown (headings, emphasis, bullets, numbered lists, code ticks, links -> their text), URLs, HTML and
    chat special tokens, emoji, hashtags, stage directions in brackets or parentheses, speaker labels ("Anchor:"),
    lines that describe the text ("Title:", "Note:", "Disclaimer:"), a letter's salutation and sign-off, chatty
    preambles ("Sure! Here is..."), a title line, and an echo of the prompt or headline (`echoes`) at the start.
    Sentences that held a fill-in placeholder such as "[Your Name]" are dropped whole, as are sentences about the
    writing ("Please add...") and sentences with no letters.

    `complete` says whether the text ended where its writer meant it to: if so, a last sentence without a full stop
    gets one; if not (a token limit cut it off), that unfinished last sentence is dropped.
    """
    text = unicodedata.normalize("NFC", raw)
    text = _ZERO_WIDTH.sub("", text).replace("\u00a0", " ").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch == "\n" or ch == "\t" or unicodedata.category(ch) != "Cc")
    text = _SPECIAL_TOKEN.sub(" ", text)
    text = _MD_IMAGE.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    text = strip_emoji(text)
    text = _HASHTAG.sub(" ", text)
    # Multi-line bracketed directions ("[Music\nfades]") become one line before line-by-line cleaning.
    text = re.sub(r"\[[^\[\]\n]*\n[^\[\]]*\]", lambda m: m.group(0).replace("\n", " "), text)

    echo_norms = [n for n in (_normal(e) for e in echoes) if n]
    lines: list[str] = []
    items: list[bool] = []
    for raw_line in text.split("\n"):
        line = _clean_line(raw_line)
        if line is None:
            continue
        is_item = line.startswith(_ITEM)
        line = line.lstrip(_ITEM)
        if not lines and _WHOLE_LINE_EMPHASIS.match(raw_line) and count_words(line) <= 14:
            continue  # a bold first line is a title, even with an exclamation mark
        if not lines:  # the start of the answer: chatty preamble, echoed prompt/headline, a title line
            line = _strip_preamble(line)
            norm = _normal(line)
            if not norm or any(norm == e or (len(norm.split()) >= 3 and norm in e) for e in echo_norms):
                continue
        if line:
            lines.append(line)
            items.append(is_item)

    # A first line without a full stop, followed by a line that starts a new thought, is a title.
    if (
        len(lines) > 1
        and not items[0]
        and not lines[0].endswith(_END_PUNCT)
        and count_words(lines[0]) <= 14
        and not lines[1][0].islower()
    ):
        lines.pop(0)
        items.pop(0)

    # Join lines into prose. A line ends its sentence when the next line starts a new thought (not lower case) or
    # is a list item: it gets a full stop if it has none ("Key points:" -> "Key points.").
    parts: list[str] = []
    for i, line in enumerate(lines):
        last = i + 1 == len(lines)
        if items[i] and line[0].islower():
            line = line[0].upper() + line[1:]  # a list item starts a sentence
        if not last and (items[i + 1] or not lines[i + 1][0].islower()):
            if line.endswith((":", ";", ",")):
                line = line[:-1] + "."
            elif not line.endswith(_END_PUNCT) and not line.endswith(_PLACEHOLDER):
                line += "."
        parts.append(line)
    prose = " ".join(parts)

    sentences = []
    for sentence in split_sentences(prose):
        if (
            _PLACEHOLDER in sentence
            or _META_SENTENCE.match(sentence.lstrip("\"'\u201c\u2018 "))
            or _META_ANYWHERE.search(sentence)
        ):
            continue
        sentence = _tidy(sentence)
        if not sentence or not any(ch.isalpha() for ch in sentence):
            continue
        if not sentences and any(_normal(sentence) == e for e in echo_norms):
            continue  # "Breakthrough in Mars Project. Scientists said..." -- the headline read out first
        sentences.append(sentence)

    if sentences and not sentences[-1].endswith(_END_PUNCT):
        if complete:
            sentences[-1] = sentences[-1].rstrip(",;:-\u2013\u2014 ") + "."
        else:
            sentences.pop()  # cut off mid-sentence
    return sentences


def _tidy(sentence: str) -> str:
    s = sentence.strip().lstrip(",;:.-\u2013\u2014 ")
    # Unbalanced straight double quotes at either end: "He said so. / He said so."
    if s.count('"') % 2 == 1:
        s = s.strip('"').strip() if s.startswith('"') or s.endswith('"') else s.replace('"', "")
    # Typographic quotes pair as “…” (English) or „…“ (German): an odd total means one lost its partner.
    if (s.count("\u201c") + s.count("\u201d") + s.count("\u201e")) % 2 == 1:
        s = s.replace("\u201c", "").replace("\u201d", "").replace("\u201e", "")
    # A whole sentence in quotes with no speaker is the model quoting itself: drop the quotes.
    for left, right in (('"', '"'), ("\u201c", "\u201d")):
        body = s[1:].rstrip()
        if s.startswith(left) and left not in body[:-2] and right not in body[:-2]:
            if body.endswith(right):
                s = body[:-1]
            elif len(body) > 1 and body[-1] in ".!?" and body[-2] == right:
                s = body[:-2] + body[-1]
    s = re.sub(r"\s+", " ", s).strip()
    if s and s[0].isalpha() and s[0].islower() and s[0].upper() != s[0]:
        s = s[0].upper() + s[1:]
    return s


def ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(_END_PUNCT)


# --------------------------------------------------------------------------------------------------------------------
# Merging passages and fitting the budget


def is_near_duplicate(sentence: str, others: Iterable[str], threshold: float = 0.85) -> bool:
    """True when `sentence` says the same as one of `others`: equal ignoring case and punctuation, one containing
    the other, or nearly the same words (difflib ratio or word-set overlap at least `threshold`)."""
    a = _normal(sentence)
    if not a:
        return True
    a_words = set(a.split())
    for other in others:
        b = _normal(other)
        if not b:
            continue
        if a == b or (len(a_words) >= 4 and (f" {a} " in f" {b} " or f" {b} " in f" {a} ")):
            return True
        b_words = set(b.split())
        if len(a_words | b_words) and len(a_words & b_words) / len(a_words | b_words) >= threshold:
            return True
        if difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold:
            return True
    return False


def merge_new(existing: Sequence[str], new: Iterable[str]) -> list[str]:
    """The sentences of `new` that repeat nothing in `existing` (or earlier in `new`)."""
    kept: list[str] = []
    for sentence in new:
        if not is_near_duplicate(sentence, [*existing, *kept]):
            kept.append(sentence)
    return kept


def _leading_fit(sizes: Sequence[int], words: int, limit: float) -> tuple[int, bool]:
    """(how many leading sentences come closest to `words` without passing `limit` (at least one), whether a
    sentence after the first passed `limit`: then no later sentence can change that choice)."""
    best_k, best_gap, total = 1, None, 0
    for k, size in enumerate(sizes, start=1):
        total += size
        if total > limit and k > 1:
            return best_k, True
        gap = abs(total - words)
        if best_gap is None or gap < best_gap:
            best_k, best_gap = k, gap
    return best_k, False


def fit_budget(sentences: Sequence[str], words: int, over: float = 0.10, under: float = 0.10) -> list[str]:
    """Sentences, in order, whose word count is as close to `words` as whole sentences allow, never more than
    `over` above it.

    First the leading sentences closest to the budget. If that falls more than `under` short (the next sentence was
    too long to fit), later sentences that still fit are added, skipping the ones that do not. Never cuts inside a
    sentence; always keeps the first sentence (a script needs one), even if it alone is longer than the budget.
    """
    if not sentences:
        return []
    limit = words * (1 + over)
    sizes = [count_words(s) for s in sentences]
    best_k, _ = _leading_fit(sizes, words, limit)
    chosen = list(range(best_k))
    prefix_total = total = sum(sizes[:best_k])
    if total >= words * (1 - under):
        return list(sentences[:best_k])
    for i in range(best_k, len(sentences)):
        if total >= words:
            break
        if total + sizes[i] <= limit:
            chosen.append(i)
            total += sizes[i]
    if abs(total - words) >= abs(prefix_total - words):
        return list(sentences[:best_k])
    return [sentences[i] for i in chosen]


def budget_settled(sentences: Sequence[str], words: int, over: float = 0.10, under: float = 0.10) -> bool:
    """Whether `fit_budget` keeps the same sentences of `sentences` whatever sentences are written after them:
    once a sentence after the first takes the running total past the limit and the leading sentences before it
    already come within `under` of the budget, nothing later is looked at. A writer can stop there."""
    sizes = [count_words(s) for s in sentences]
    best_k, passed = _leading_fit(sizes, words, words * (1 + over))
    return passed and sum(sizes[:best_k]) >= words * (1 - under)


def fitted_words(sentences: Sequence[str], words: int) -> int:
    """How many words `fit_budget` would keep."""
    return count_words(" ".join(fit_budget(sentences, words)))


# --------------------------------------------------------------------------------------------------------------------
# Titles and image prompts


def short_title(headline: str, limit: int = 60) -> str:
    """The headline as a title, cut at a word boundary to at most `limit` characters (with an ellipsis)."""
    title = " ".join(headline.split())
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut and not is_ideograph(cut[-1]):
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-\u2013\u2014") + "\u2026"


def clean_title(text: str, limit: int = 60) -> str:
    """A model-written title, cleaned like narration (markdown, quotes, emoji gone), without a final full stop."""
    title = " ".join(clean_sentences(_EMPHASIS.sub("", text.replace("\n", " "))))
    title = title[:-1] if title.endswith(".") and not title.endswith("...") else title
    return short_title(title, limit) if title else ""


_STOPWORD_TEXT = """a about above across after again against all almost also although always among an and another any
    anyone
    anything are around as at away back be because been before being below between both but by came can cannot
    could day days did do does doing done down during each early either else even ever every first for four from
    further get gets getting given go going got great had has have having he her here hers herself him himself his
    how however i if in including into is it its itself just know known last later least less let like likely made
    make makes making many may me might more most much must my near never new news next no nor not now of off
    often on once one only onto or other others our out over own part people per perhaps put rather really said
    same say saying says second see seen set several shall she should show shows since so some something soon
    still such take taken than that the their them themselves then there these they thing things third this those
    though three through thus time times to today together told too took toward towards two under until up upon us
    use used very want was way ways we week weeks well went were what when where whether which while who whole whom
    whose why will with within without would year years yet you your also according report reports reported
    reporting reporter anchor story stories tonight evening morning good thank thanks welcome stay tuned back
    latest breaking update updates live join joining here there everyone viewers world officials official
    statement expected significant important major following found announced revealed confirmed believe believed
    continue continues continued remain remains become became help helps allow allows provide provides aims hope
    hopes could might across based monday tuesday wednesday thursday friday saturday sunday january february march
    april june july august september october november december"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def keywords(text: str, exclude: str = "", limit: int = 4) -> list[str]:
    """A few salient words of `text` for an image prompt: the most frequent non-trivial words (first seen wins a
    tie), leaving out those already in `exclude` (the headline)."""
    excluded = set(_normal(exclude).split())
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for i, token in enumerate(re.findall(r"[^\W\d_][\w'\u2019-]*", text)):
        word = token.strip("'\u2019-")
        key = word.casefold()
        if len(key) < 4 or len(key) > 24 or key in _STOPWORDS or key in excluded or any(map(is_ideograph, key)):
            continue
        if key.endswith(("'s", "\u2019s", "ed", "ly")):
            continue  # possessives, past tenses and adverbs make poor picture subjects
        counts[key] += 1
        first.setdefault(key, i)
        spelled.setdefault(key, word if not word.isupper() or len(word) <= 5 else word.lower())
    ranked = sorted(counts, key=lambda k: (-counts[k], first[k]))
    return [spelled[k] for k in ranked[:limit]]


DEFAULT_NEGATIVE_PROMPT = "text, watermark, logo, letters, blurry, deformed, bad anatomy"


def image_prompt(headline: str, script_text: str, limit: int = 4) -> str:
    """The backdrop prompt: the headline (as data) plus a few salient words of the narration, in a
    photo-journalistic style, asking for no text in the picture."""
    return render("image_prompt.j2", headline=headline, keywords=keywords(script_text, exclude=headline, limit=limit))


def split_scenes(headline: str, sentences: Sequence[str], scenes: int) -> list[tuple[list[int], str]]:
    """Cut the narration into up to `scenes` runs of consecutive sentences of about equal word counts, each with its
    own image prompt built from its sentences (headline + that scene's salient words). Fewer sentences than scenes
    gives one scene per sentence. Returns (sentence indices, image prompt) per scene, in order."""
    n = len(sentences)
    count = max(1, min(scenes, n))
    if count == 1:
        return [(list(range(n)), image_prompt(headline, " ".join(sentences)))]
    words = [max(1, count_words(s)) for s in sentences]
    total = sum(words)
    # Cut after the sentence where the running word count passes k/count of the total (nearest cut point),
    # keeping every scene at least one sentence long.
    cuts: list[int] = []
    running = 0
    ends = []
    for i, w in enumerate(words):
        running += w
        ends.append(running)
    for k in range(1, count):
        target = total * k / count
        lo = (cuts[-1] + 1) if cuts else 1
        hi = n - (count - k)
        best = min(range(lo, hi + 1), key=lambda c: (abs(ends[c - 1] - target), c))
        cuts.append(best)
    bounds = [0, *cuts, n]
    out = []
    for a, b in itertools.pairwise(bounds):
        indices = list(range(a, b))
        out.append((indices, image_prompt(headline, " ".join(sentences[a:b]))))
    return out


def scene_list(headline: str, sentences: Sequence[str], scenes: int) -> list:
    """Script.scenes for a `scenes` parameter: [] (the Script's default, one scene) for 1, else `split_scenes`."""
    from ...stages.script import Scene

    if scenes <= 1:
        return []
    return [Scene(sentences=idx, image_prompt=prompt) for idx, prompt in split_scenes(headline, sentences, scenes)]


def make_script(headline: str, sentences: list[str], *, language: str, scenes: int, words_target: int, model: str,
                title: str | None = None, prompt: str | None = None, notes: dict | None = None) -> Script:
    """The `Script` every built-in script provider returns: title, image prompt and scenes derived the same way
    unless the provider has its own (a model's title or image prompt)."""
    from ...stages.script import Script

    return Script(
        headline=headline,
        title=title or short_title(headline),
        sentences=sentences,
        image_prompt=prompt or image_prompt(headline, " ".join(sentences)),
        negative_prompt=DEFAULT_NEGATIVE_PROMPT,
        language=language,
        scenes=scene_list(headline, sentences, scenes),
        words_target=words_target,
        model=model,
        notes=notes or {},
    )
