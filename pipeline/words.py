"""What a word and a sentence of a script are, and which writing system a text is in: decided here, once.

Every stage must agree on these, so every stage asks this module: the voices time exactly the words `split_words`
gives (the voice contract checks it), the captions show and break them, the script providers count and budget them
and split their text into sentences, the fonts and the compose graphics pick a font and a direction by the
writing system.

**Words** (`word_spans`, `split_words`, `sentence_words`). For text with spaces (English, Arabic, Hebrew, Korean,
...) a word is what `str.split()` gives, punctuation attached as written. Chinese and Japanese have no spaces, so
there every Han ideograph and every kana is a word of its own; punctuation and symbols stick to the character they
belong to (closing marks such as `，。」）` and `%` to the one before, opening marks such as `「（“` to the one after),
and runs of other characters inside such text ("GDP", "5%") stay one word. So captions can break a CJK line between
any two characters but never before a closing mark, and voices can time every character. `join_words` puts words
back together: no space next to a CJK character or CJK punctuation, one space elsewhere. `count_words` counts the
words a narrator speaks: the words holding a letter or a digit (a lone dash is no word).

**Sentences** (`split_sentences`): at . ! ? … and the full stops of Chinese/Japanese (。！？) and Arabic/Urdu (؟ ۔),
knowing abbreviations (Dr., U.S., e.g.), decimals (3.5), initials, ellipses and closing quotes.

**Writing systems** (`script_of`, `language_script`, `is_rtl`, `display_width`): whether most letters are CJK
(Han, kana, hangul), Arabic, Hebrew or Latin (everything else); which system a language code is written in;
whether a text runs right to left; how many columns it takes (wide CJK characters count two).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# ---------------------------------------------------------------------------------------------------------------
# Characters


def is_ideograph(ch: str) -> bool:
    """A character written without spaces around it and spoken as a word of its own: Han ideographs, hiragana
    and katakana."""
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= cp <= 0x31FF  # katakana phonetic extensions
        or 0x3400 <= cp <= 0x4DBF  # CJK extension A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= cp <= 0x3134F  # CJK extensions B-G
        or cp == 0x3005  # 々 iteration mark
    )


def is_hangul(ch: str) -> bool:
    """Korean letters: syllables, jamo and compatibility jamo (Korean puts spaces between its words)."""
    cp = ord(ch)
    return 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F


def is_cjk_punct(ch: str) -> bool:
    """CJK symbols and punctuation (、。「」…) and full-width forms (，！？：；（）)."""
    cp = ord(ch)
    return 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF or 0xFE30 <= cp <= 0xFE4F


def is_unspaced(ch: str) -> bool:
    """A character that takes no space next to it: a Chinese or Japanese character, or CJK punctuation."""
    return is_ideograph(ch) or is_cjk_punct(ch)


def display_width(text: str) -> int:
    """Columns a text takes on screen: wide (CJK) characters count two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _opens(ch: str) -> bool:
    return unicodedata.category(ch) in ("Ps", "Pi")


def _is_mark(ch: str) -> bool:
    """Punctuation or a symbol: something that belongs to a neighbouring word rather than being one."""
    return unicodedata.category(ch)[0] in ("P", "S")


# ---------------------------------------------------------------------------------------------------------------
# Words


def _split_chunk(chunk: str, offset: int) -> list[tuple[int, int]]:
    """Spans of the words in one whitespace-free chunk that holds CJK characters (see the module docstring)."""
    atoms: list[list[int]] = []  # [start, end, kind]; kind 0 = ideograph, 1 = run of other characters
    for i, ch in enumerate(chunk):
        if is_ideograph(ch):
            atoms.append([i, i + 1, 0])
        elif atoms and atoms[-1][2] == 1 and atoms[-1][1] == i:
            atoms[-1][1] = i + 1
        else:
            atoms.append([i, i + 1, 1])
    words: list[list[int]] = []
    pending_open: int | None = None  # start of opening marks waiting for the next word
    for start, end, kind in atoms:
        if kind == 1:
            # Leading closing marks of a run belong to the word before; trailing opening marks to the word after.
            lead = start
            while lead < end and _is_mark(chunk[lead]) and not _opens(chunk[lead]) and words:
                lead += 1
            if lead > start:
                words[-1][1] = lead
            trail = end
            while trail > lead and _opens(chunk[trail - 1]):
                trail -= 1
            core_start, core_end = lead, trail
            if core_end > core_start:
                if all(_is_mark(c) for c in chunk[core_start:core_end]) and words and pending_open is None:
                    words[-1][1] = core_end  # only marks (" ，", "%"): they close the word before
                else:
                    words.append([pending_open if pending_open is not None else core_start, core_end])
                    pending_open = None
            if trail < end:
                pending_open = trail if pending_open is None else pending_open
        else:
            words.append([pending_open if pending_open is not None else start, end])
            pending_open = None
    if pending_open is not None:  # opening marks at the very end: keep them with the last word
        if words:
            words[-1][1] = len(chunk)
        else:
            words.append([pending_open, len(chunk)])
    return [(offset + s, offset + e) for s, e in words]


def word_spans(sentence: str) -> list[tuple[int, int]]:
    """[start, end) code-point offsets of the words of a sentence (see the module docstring)."""
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"\S+", sentence):
        chunk = m.group(0)
        if any(is_ideograph(ch) for ch in chunk):
            spans.extend(_split_chunk(chunk, m.start()))
        else:
            spans.append((m.start(), m.end()))
    return spans


def split_words(sentence: str) -> list[str]:
    """The words of a sentence, punctuation attached: `str.split()`'s, and one per Chinese/Japanese character."""
    return [sentence[a:b] for a, b in word_spans(sentence)]


def sentence_words(sentences: Sequence[str]) -> list[tuple[str, int]]:
    """Every word of a script, in order, with the index of its sentence: what a voice must time."""
    if isinstance(sentences, str):  # one string would be taken as a list of one-character sentences
        raise TypeError("sentence_words takes a list of sentences, not one string")
    return [(word, i) for i, sentence in enumerate(sentences) for word in split_words(sentence)]


def count_words(text: str) -> int:
    """Words as a narrator speaks them: the words of `split_words` that hold a letter or a digit (a dash or an
    emoji alone is not one). In Chinese and Japanese that is about one per character, roughly a syllable."""
    return sum(1 for word in split_words(text) if any(ch.isalnum() for ch in word))


def needs_space(before: str, after: str) -> bool:
    """Whether two words are written with a space between them: never next to CJK characters or punctuation."""
    if not before or not after:
        return False
    return not (is_unspaced(before[-1]) or is_unspaced(after[0]))


def join_words(words: Sequence[str]) -> str:
    """Words back into text: a space between two words where `needs_space` says so."""
    out = ""
    for w in words:
        if out and needs_space(out, w):
            out += " "
        out += w
    return out


def join_lines(lines: Sequence[str]) -> str:
    """Lines of one paragraph as one line: joined with a space, or with nothing where both sides of the seam are
    Chinese/Japanese characters or CJK punctuation (a text wrapped mid-sentence; "GDP" + "增长" keeps its space)."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        seam = out and is_unspaced(out[-1]) and is_unspaced(line[0])
        out = f"{out}{line}" if seam or not out else f"{out} {line}"
    return out


def spaces_before(words: Sequence[str], sentences: Sequence[str] | None = None, sentence_of: Sequence[int] | None = None) -> list[bool]:
    """For each word, whether a space comes before it when shown after the previous word.

    With the script's sentences (and each word's sentence index), spacing follows the text as written: a word is
    found in its sentence after the previous one and gets a space when whitespace separated them. Words that
    cannot be found there (a provider that changed them) fall back to `needs_space`.
    """
    out: list[bool] = []
    pos: dict[int, int] = {}
    for k, w in enumerate(words):
        if k == 0:
            out.append(False)
            continue
        heuristic = needs_space(words[k - 1], w)
        if sentences is None or sentence_of is None:
            out.append(heuristic)
            continue
        s_prev, s = sentence_of[k - 1], sentence_of[k]
        if s != s_prev:
            out.append(heuristic)
            continue
        text = sentences[s] if 0 <= s < len(sentences) else ""
        prev_end = pos.get(k - 1)
        if prev_end is None:
            found_prev = text.find(words[k - 1])
            prev_end = found_prev + len(words[k - 1]) if found_prev >= 0 else None
        found = text.find(w, prev_end) if prev_end is not None else -1
        if found < 0:
            out.append(heuristic)
            continue
        pos[k] = found + len(w)
        between = text[prev_end:found]
        out.append(bool(between) and between.isspace())
    return out


# ---------------------------------------------------------------------------------------------------------------
# Sentences

# Words that end in a full stop without ending a sentence (compared lower-case, without the dot). Words that are
# also ordinary English words ("sat", "sun", "no") are left out or only count before a number.
_ABBREVIATION_WORDS = (
    "mr mrs ms mx dr prof sr jr st mt ft gen col lt sgt capt cmdr adm maj gov sen rep rev hon supt insp "
    "inc ltd co corp llc plc bros dept univ assn approx vs v cf al etc "
    "jan feb apr jun jul aug sep sept oct nov dec ave blvd rd hwy apt bldg mph km kg lb lbs oz "
    "e.g i.e a.m p.m u.s u.k u.n e.u"
)
ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
ABBREVIATIONS_BEFORE_NUMBER = frozenset(("no", "nos", "vol", "fig", "figs", "p", "pp", "art", "sec", "ch", "ed"))

_TERMINAL = re.compile(
    r"""(?P<stop>[.!?\u2026]+|[\u3002\uff01\uff1f\u061f\u06d4]+)   # . ! ? … or 。！？ ؟ ۔
        (?P<close>["'\u201c\u201d\u2018\u2019\u00bb)\]\u300d\u300f]*)  # closing quotes (German: “) and brackets
        (?P<space>\s*)""",
    re.VERBOSE,
)
_NO_SPACE_STOPS = set("\u3002\uff01\uff1f\u061f\u06d4")  # these end a sentence with or without a space after


def _is_boundary(text: str, m: re.Match[str]) -> bool:
    stop, space = m.group("stop"), m.group("space")
    after = text[m.end() :]
    if not after:
        return True
    if stop[-1] in _NO_SPACE_STOPS:
        return True
    if not space:  # "3.5", "U.S.A", "example.com", "?!" inside a word
        return False
    nxt = after[0]
    if "." not in stop and "\u2026" not in stop:
        return True  # ! and ? end sentences
    if nxt.islower():  # "approx. five", "... and then"
        return False
    if stop != ".":
        return True  # an ellipsis followed by a capital
    before = re.search(r"(\S+)$", text[: m.start()])
    spelled = (before.group(1) if before else "").lstrip("\"'(\u201c\u2018[\u00ab")
    word = spelled.lower()
    if word in ABBREVIATIONS or (word in ABBREVIATIONS_BEFORE_NUMBER and nxt.isdigit()):
        return False
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):  # U.S, e.g, i.e, D.C
        return False
    return not (len(spelled) == 1 and spelled.isupper())  # an initial: "J. K. Rowling"


def split_sentences(text: str) -> list[str]:
    """Split text into sentences. Knows abbreviations (Dr., U.S., e.g.), decimals (3.5), ellipses, closing quotes,
    and the full stops of Chinese/Japanese (。！？) and Arabic/Urdu (؟ ۔). Pieces without any letter are dropped."""
    text = re.sub(r"\s+", " ", text).strip()
    sentences: list[str] = []
    start = 0
    for m in _TERMINAL.finditer(text):
        if _is_boundary(text, m):
            end = m.end() - len(m.group("space"))
            sentences.append(text[start:end].strip())
            start = m.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if any(ch.isalpha() for ch in s)]


# ---------------------------------------------------------------------------------------------------------------
# Writing systems

CJK_LANGUAGES = ("zh", "ja", "ko", "cmn", "yue")
ARABIC_LANGUAGES = ("ar", "fa", "ur", "ps", "ug", "ckb", "sd")


def script_of(text: str) -> str:
    """The writing system most of the letters of `text` are in: "cjk" (Han, kana, hangul), "arabic", "hebrew" or
    "latin" (everything else, also when there are no letters)."""
    counts = {"cjk": 0, "arabic": 0, "hebrew": 0, "latin": 0}
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if is_ideograph(ch) or is_hangul(ch):
            counts["cjk"] += 1
        elif 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0x08A0 <= cp <= 0x08FF or 0xFB50 <= cp <= 0xFEFF:
            counts["arabic"] += 1
        elif 0x0590 <= cp <= 0x05FF or 0xFB1D <= cp <= 0xFB4F:
            counts["hebrew"] += 1
        else:
            counts["latin"] += 1
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else "latin"


def language_script(language: str) -> str:
    """The writing system a language code is written in, as `script_of` names them: zh/ja/ko -> "cjk", ar/fa/ur
    -> "arabic", everything else "latin"."""
    lang = language.lower().replace("_", "-").split("-")[0]
    return "cjk" if lang in CJK_LANGUAGES else "arabic" if lang in ARABIC_LANGUAGES else "latin"


def is_rtl(text: str) -> bool:
    """Whether most strongly directional letters of `text` are right-to-left (Arabic, Hebrew, ...)."""
    rtl = ltr = 0
    for ch in text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in ("R", "AL"):
            rtl += 1
        elif bidi == "L":
            ltr += 1
    return rtl > ltr
