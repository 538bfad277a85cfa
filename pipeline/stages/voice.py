"""Stage 3, voice: script -> narration audio with a start and end time for every spoken word."""

from __future__ import annotations

import math
import wave
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from ..words import sentence_words
from .script import Script


class WordTiming(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    word: str  # the script's word as pipeline.words.split_words gives it, punctuation attached as written
    start: float  # seconds from the start of the audio
    end: float
    sentence: int  # index into Script.sentences


class Narration(Artifact):
    notes: dict[str, Any] = {}  # provider facts for run.json (alignment score, prompt cuts, ...)
    path: ArtifactPath  # WAV, mono 16-bit
    duration: float
    sample_rate: int
    words: list[WordTiming] = Field(min_length=1)
    voice: str = ""
    # (start, end, IPA phoneme) in seconds of the narration, as the voice itself timed them (Piper knows each
    # phoneme's samples); empty when a voice does not know them, and then the presenter estimates its own.
    phonemes: list[tuple[float, float, str]] = []

    def exports(self) -> dict[str, Path | bytes]:
        return {"narration.wav": self.path}


class VoiceProvider(Provider):
    stage = "voice"

    @classmethod
    def words_per_second(cls, params) -> float:
        """The speaking rate this voice is expected to reach with these parameters; sets the script's word budget."""
        return 2.5

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Narration:
        raise NotImplementedError


# Seconds of slack in the timing rules below: providers round their times (espeak to 10 µs, files to a sample).
TIME_SLACK = 0.01


def broken_rule(narration: Narration, *, script: Script, **_: object) -> str | None:
    """The first rule of the voice contract `narration` breaks, in words, or None when it keeps them all:

    - `words` are the script's words (`pipeline.words.sentence_words`), every one, in order, each with its sentence;
    - each word's start and end are numbers with start <= end, inside the audio (0 to `duration`), and starts and
      ends never go back in time from one word to the next;
    - `phonemes`, when given, have real times with start <= end inside the audio, starts never going back;
    - `path` is a mono 16-bit WAV whose sample rate is `sample_rate` and whose length is `duration`.

    Cheap: reads the WAV header only.
    """
    expected = sentence_words(script.sentences)
    for k, (timing, (word, sentence)) in enumerate(zip(narration.words, expected), start=1):
        if timing.word != word:
            return f"word {k} is {timing.word!r}, the script's word {k} is {word!r}"
        if timing.sentence != sentence:
            return (f"word {k} {word!r} is marked as in sentence {timing.sentence + 1}, "
                    f"the script has it in sentence {sentence + 1}")
    timed, has = len(narration.words), len(expected)
    if timed < has:
        return f"it timed {timed} words, the script has {has} (word {timed + 1}, {expected[timed][0]!r}, is missing)"
    if timed > has:
        extra = narration.words[has].word
        return f"it timed {timed} words, the script has {has} (word {has + 1}, {extra!r}, is not in it)"
    if not (math.isfinite(narration.duration) and narration.duration > 0):
        return f"its duration is {narration.duration} s; a narration lasts a positive number of seconds"
    previous = None
    for k, w in enumerate(narration.words, start=1):
        if not (math.isfinite(w.start) and math.isfinite(w.end)):
            return f"word {k} {w.word!r} has no real time (start {w.start}, end {w.end})"
        if w.end < w.start:
            return f"word {k} {w.word!r} ends ({w.end:.3f} s) before it starts ({w.start:.3f} s)"
        if w.start < 0 or w.end > narration.duration + TIME_SLACK:
            where = f"({w.start:.3f}-{w.end:.3f} s)"
            return f"word {k} {w.word!r} {where} lies outside the audio (0-{narration.duration:.3f} s)"
        if previous is not None and (w.start < previous.start - 1e-9 or w.end < previous.end - 1e-9):
            return (f"word {k} {w.word!r} ({w.start:.3f}-{w.end:.3f} s) goes back in time from word {k - 1} "
                    f"{previous.word!r} ({previous.start:.3f}-{previous.end:.3f} s)")
        previous = w
    last_start = 0.0
    for k, (start, end, phoneme) in enumerate(narration.phonemes, start=1):
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            return f"phoneme {k} {phoneme!r} has no real span (start {start}, end {end})"
        if start < 0 or end > narration.duration + TIME_SLACK:
            return f"phoneme {k} {phoneme!r} ({start:.3f}-{end:.3f} s) lies outside the audio (0-{narration.duration:.3f} s)"
        if start < last_start - 1e-9:
            return f"phoneme {k} {phoneme!r} starts at {start:.3f} s, before phoneme {k - 1} ({last_start:.3f} s)"
        last_start = start
    try:
        with wave.open(str(narration.path), "rb") as wav:
            channels, width, rate, frames = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
    except (OSError, EOFError, wave.Error) as exc:
        return f"its audio {narration.path.name} is not a readable WAV file ({exc})"
    if channels != 1 or width != 2:
        return f"its audio is {channels}-channel {8 * width}-bit; the contract is mono 16-bit"
    if rate != narration.sample_rate:
        return f"its WAV is sampled at {rate} Hz, but sample_rate says {narration.sample_rate}"
    seconds = frames / rate if rate else 0.0
    if abs(seconds - narration.duration) > TIME_SLACK:
        return f"its WAV lasts {seconds:.3f} s, but duration says {narration.duration:.3f} s"
    return None
