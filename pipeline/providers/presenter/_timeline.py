"""From the narration's word times to a presenter's per-frame timeline: mouth shapes, blinks, head and body motion.

Shared by every sprite presenter (the drawn anchor, a user's sprite set). Nothing here draws.
"""

from __future__ import annotations

import bisect
import math
import random
import wave
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import NewsreelError
from ...stages.presenter import Timeline
from ...stages.voice import Narration, WordTiming
from . import _visemes

SHORT_PAUSE = 0.15  # seconds: a gap between words shorter than this holds a relaxed mouth, a longer one rests (X)
BLINK_SECONDS = 0.15
BLINK_GAP = (2.0, 6.0)  # seconds between the starts of two blinks
FIRST_BLINK = (0.8, 3.0)

CLOSURES = "AG"  # shapes too telling to lose when shorter than a frame (lips meeting, teeth on the lip)

# The jaw follows the narration's loudness, as lip-sync rigs drive it: each phoneme's mouth shape gives the lips'
# form (spread or rounded; closures stay closed), how loud the voice is over the phoneme gives how far the jaw
# opens. Loudness is in dB under the narration's speaking level (its loud 10 ms steps' level, LOUD_PERCENTILE).
# Measured on the default video (tests/lipsync.py): the mouth's dark opening per frame against the soundtrack's
# loudness, Pearson r 0.35 with the phoneme shapes alone, 0.6 with the jaw.
LOUD_PERCENTILE = 90
SILENT_DB = 24.0  # this far under the speaking level is a pause: the mouth rests (X), or stays closed (A)
JAW_DB = (14.0, 5.0)  # within these of the speaking level the jaw is half open, then wide open
# Lip form -> its shape with the jaw nearly closed, half open, wide open. Spread lips open B (teeth), C, D; rounded
# ones F (pucker), E, and wide open D; a raised tongue (L) shows only while the mouth is nearly closed.
JAW = {
    "B": "BCD", "C": "BCD", "D": "BCD", "H": "HCC",
    "F": "FEE", "E": "FED",
    "A": "AAA", "G": "GGG", "X": "XXX",
}


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    shape: str


def placed(
    words: list[WordTiming], phonemes: list[list[str]], duration: float, level: np.ndarray | None = None
) -> list[list[_visemes.Segment]]:
    """Each word's phonemes timed inside the word's own span: with the narration's `level` (`levels`) placed on its
    loudness (`_visemes.place`), else spread by their usual lengths."""
    return [_visemes.place(ph, max(0.0, w.start), min(duration, w.end), level) for w, ph in zip(words, phonemes)]


def voiced(
    words: list[WordTiming], phonemes: list[tuple[float, float, str]], duration: float
) -> list[list[_visemes.Segment]]:
    """The voice's own timed phonemes (`Narration.phonemes`) grouped by word, as `placed` gives its estimates: each
    phoneme goes to the last word starting at or before its middle (the first word when none does)."""
    starts = [w.start for w in words]
    grouped: list[list[_visemes.Segment]] = [[] for _ in words]
    for start, end, phoneme in phonemes:
        start, end = max(0.0, start), min(duration, end)
        k = max(0, bisect.bisect_right(starts, (start + end) / 2) - 1)
        if words:
            grouped[k].append(_visemes.Segment(start, max(start, end), phoneme))
    return grouped


def mouth_cues(
    words: list[WordTiming],
    phonemes: list[list[str]],
    duration: float,
    level: np.ndarray | None = None,
    segments: list[list[_visemes.Segment]] | None = None,
) -> list[Cue]:
    """The mouth shapes over time, covering [0, duration] without gaps: X before, between phrases and after;
    short gaps inside a phrase hold the previous shape, relaxed. `segments`: the words' timed phonemes (`placed`)."""
    spoken: list[Cue] = []
    for word_segments in segments if segments is not None else placed(words, phonemes, duration, level):
        for s, e, shape in _visemes.shapes(word_segments):
            spoken.append(Cue(s, e, shape))
    cues: list[Cue] = []
    t = 0.0
    for cue in spoken:
        if cue.start > t + 1e-9:
            if cues and cue.start - t < SHORT_PAUSE:
                cues.append(Cue(t, cue.start, _visemes.RELAXED[cues[-1].shape]))
            else:
                cues.append(Cue(t, cue.start, "X"))
            t = cue.start
        if cue.end > t:  # overlapping words (a shared span) continue where the last one ended
            cues.append(Cue(t, cue.end, cue.shape))
            t = cue.end
    if duration > t or not cues:
        cues.append(Cue(t, max(duration, t), "X"))
    return _merged(cues)


def _merged(cues: list[Cue]) -> list[Cue]:
    out: list[Cue] = []
    for cue in cues:
        if out and out[-1].shape == cue.shape:
            out[-1] = Cue(out[-1].start, cue.end, cue.shape)
        else:
            out.append(cue)
    return out


def loudness(path: Path, fps: int, frames: int) -> np.ndarray:
    """The narration's loudness per frame, dB full scale: the RMS over frame i's [i / fps, (i + 1) / fps), the
    sound the frame is seen with."""
    with wave.open(str(path), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        raw = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path.name}: expected 16-bit samples")
    samples = np.frombuffer(raw, "<i2").reshape(-1, channels).mean(axis=1) / 32768.0
    bounds = (np.arange(frames + 1) * rate / fps).astype(np.int64).clip(0, len(samples))
    power = np.concatenate([[0.0], np.cumsum(samples**2)])
    counts = np.maximum(np.diff(bounds), 1)
    rms = np.sqrt((power[bounds[1:]] - power[bounds[:-1]]) / counts)
    return 20 * np.log10(np.maximum(rms, 1e-6))


def speaking_level(db: np.ndarray) -> float:
    """The narration's speaking level, dB: its loud frames' (LOUD_PERCENTILE of the frames not silent)."""
    voiced = db[db > -60.0]
    return float(np.percentile(voiced, LOUD_PERCENTILE)) if voiced.size else 0.0


def levels(db: np.ndarray, speaking: float) -> np.ndarray:
    """Loudness as 0 (a pause, SILENT_DB under the speaking level) to 1 (the speaking level)."""
    return np.clip(1.0 - (speaking - db) / SILENT_DB, 0.0, 1.0)


def jaw_level(db: float, speaking: float) -> int:
    """How far the jaw opens at loudness `db`: 0 in a pause, 1 nearly closed, 2 half open, 3 wide open."""
    under = speaking - db
    return 0 if under > SILENT_DB else 1 if under > JAW_DB[0] else 2 if under > JAW_DB[1] else 3


def jawed(cues: list[Cue], db: np.ndarray, fps: int, speaking: float) -> list[Cue]:
    """Each cue's shape with the jaw opened by the narration's loudness over it (its frames' mean dB): the lips'
    form from the phoneme, the opening from the voice. A pause inside a phoneme's span rests the mouth."""
    if db.size == 0:
        return cues
    out = []
    for cue in cues:
        first = math.ceil(cue.start * fps - 0.5)  # frames whose middle lies in the cue
        end = math.ceil(cue.end * fps - 0.5)
        if end <= first:  # shorter than a frame: the frame holding its middle
            first = min(db.size - 1, int((cue.start + cue.end) / 2 * fps))
            end = first + 1
        level = jaw_level(float(np.mean(db[first:end])), speaking)
        if level == 0:
            shape = "A" if cue.shape == "A" else "X"
        else:
            shape = JAW[cue.shape][level - 1]
        out.append(Cue(cue.start, cue.end, shape))
    return _merged(out)


def frame_count(duration: float, fps: int) -> int:
    return max(1, math.ceil(duration * fps - 1e-9))


def mouth_track(cues: list[Cue], fps: int, frames: int) -> str:
    """One shape per frame: the cue at the frame's middle, closures shorter than a frame kept. No in-betweens: a
    frame that shows no phoneme's shape reads as noise and moves the mouth off the phoneme times."""
    starts = [c.start for c in cues]
    index = [max(0, bisect.bisect_right(starts, (i + 0.5) / fps) - 1) for i in range(frames)]
    track = [cues[k].shape for k in index]
    # A lip closure (M, B, P; F, V) that fell between two frames' middles still shows, on the frame holding its
    # middle, unless that frame is all another short cue has.
    frames_of = Counter(index)
    for k, cue in enumerate(cues):
        if cue.shape in CLOSURES and k not in frames_of:
            i = min(frames - 1, int((cue.start + cue.end) / 2 * fps))
            if frames_of[index[i]] > 1:
                track[i] = cue.shape
    return "".join(track)


def blink_track(fps: int, frames: int, seed: int) -> str:
    """Eyes per frame ("o" open, "h" half, "c" closed): a blink of ~150 ms every 2-6 s, at seeded moments."""
    rng = random.Random(seed)
    eyes = ["o"] * frames
    n = max(2, round(BLINK_SECONDS * fps))
    pattern = "h" + "c" * (n - 2) + "h" if n >= 4 else "c" * n
    t = rng.uniform(*FIRST_BLINK)
    while round(t * fps) + n <= frames:
        i = round(t * fps)
        eyes[i : i + n] = pattern
        t += rng.uniform(*BLINK_GAP)
    return "".join(eyes)


def motion_tracks(
    mouth: str, words: list[WordTiming], fps: int, seed: int, scale: float, amount: float = 1.0
) -> dict[str, list[float]]:
    """Head and body offsets per frame: an unhurried wander while speaking, a small nod as each sentence starts,
    breathing always; back to the rest pose in pauses. `scale`: canvas pixels per design unit (1/1000 of the
    canvas height); `amount` scales the head's motion (0 keeps it still)."""
    frames = len(mouth)
    t = np.arange(frames) / fps
    speaking = np.array([m != "X" for m in mouth], dtype=np.float64)
    envelope = amount * _smoothed(speaking, fps, 0.35)
    rng = np.random.default_rng(seed)

    def wander(amplitude: float) -> np.ndarray:
        freqs = rng.uniform(0.15, 0.9, 3)
        phases = rng.uniform(0, 2 * np.pi, 3)
        wave = sum(np.sin(2 * np.pi * f * t + p) / (k + 1) for k, (f, p) in enumerate(zip(freqs, phases)))
        return amplitude * wave / 1.83  # 1 + 1/2 + 1/3: the sum's largest value

    nods = np.zeros(frames)
    sentence = None
    for word in words:
        if word.sentence != sentence:
            sentence = word.sentence
            nods += np.exp(-0.5 * ((t - word.start - 0.12) / 0.13) ** 2)
    head_dx = envelope * wander(4.0)
    head_dy = envelope * wander(2.5) + amount * 4.0 * np.minimum(nods, 1.0)
    head_angle = envelope * wander(1.6)  # degrees
    breathing = 1.3 * np.sin(2 * np.pi * t / 4.6 + rng.uniform(0, 2 * np.pi))
    body_dx = 0.35 * head_dx
    body_dy = breathing + 0.25 * head_dy

    def px(values: np.ndarray, factor: float) -> list[float]:
        return [round(float(v), 2) for v in values * factor]

    return {
        "head_dx": px(head_dx, scale),
        "head_dy": px(head_dy, scale),
        "head_angle": px(head_angle, 1.0),
        "body_dx": px(body_dx, scale),
        "body_dy": px(body_dy, scale),
    }


def _smoothed(values: np.ndarray, fps: int, seconds: float) -> np.ndarray:
    sigma = max(1.0, seconds * fps / 2)
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def timeline(
    words: list[WordTiming],
    phonemes: list[list[str]],
    duration: float,
    fps: int,
    seed: int,
    scale: float,
    motion: float = 1.0,
    audio: Path | None = None,
    voice_phonemes: list[tuple[float, float, str]] | None = None,
) -> tuple[Timeline, list[Cue], list[_visemes.Segment]]:
    """The whole timeline, the mouth cues it was sampled from and the timed phonemes they came from (diphthongs in
    their two parts: the mouth changes between them). With the
    narration's `audio` (its WAV) the phonemes are placed on its loudness and the jaw opens with it (`jawed`).
    With `voice_phonemes` (the voice's own timed phonemes) those times are used instead of any estimate."""
    frames = frame_count(duration, fps)
    if audio is None:
        segments = voiced(words, voice_phonemes, duration) if voice_phonemes else placed(words, phonemes, duration)
        cues = mouth_cues(words, phonemes, duration, segments=segments)
    else:
        per_second = round(1 / _visemes.HOP)
        steps = loudness(audio, per_second, frame_count(duration, per_second))
        speaking = speaking_level(steps)
        if voice_phonemes:
            segments = voiced(words, voice_phonemes, duration)
        else:
            segments = placed(words, phonemes, duration, levels(steps, speaking))
        cues = jawed(mouth_cues(words, phonemes, duration, segments=segments), loudness(audio, fps, frames), fps,
                     speaking)
    mouth = mouth_track(cues, fps, frames)
    eyes = blink_track(fps, frames, seed)
    timed = [part for word in segments for seg in word for part in _visemes.parts(seg)]
    return Timeline(mouth=mouth, eyes=eyes, **motion_tracks(mouth, words, fps, seed, scale, motion)), cues, timed


def phoneme_notes(segments: list[_visemes.Segment]) -> list[list]:
    """run.json's record of the timed phonemes, [start, end, IPA] in seconds of the narration (a diphthong as two
    entries, its parts): where a checker looks for the mouth to change, as it changes only where one phoneme, part,
    word or pause gives way to the next."""
    return [[round(s.start, 3), round(s.end, 3), s.phoneme] for s in segments]


def blinks(eyes: str) -> int:
    return sum(1 for i, e in enumerate(eyes) if e != "o" and (i == 0 or eyes[i - 1] == "o"))


def check_word_times(voice: Narration) -> None:
    """A presenter lip-syncs to word times; a narration without them (all words at one instant) cannot drive it."""
    spoken = sum(max(0.0, w.end - w.start) for w in voice.words)
    if spoken <= 0 or len({round(w.start, 3) for w in voice.words}) < min(2, len(voice.words)):
        raise NewsreelError(
            "the presenter needs the narration's word times, and this narration has none",
            "use a voice that times its words (espeak, piper, openai-tts), or --provider presenter=none",
        )
