"""From the narration's word times to a presenter's per-frame timeline: mouth shapes, blinks, head and body motion.

Shared by every sprite presenter (the drawn anchor, a user's sprite set). Nothing here draws.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ...errors import NewsreelError
from ...stages.presenter import Timeline
from ...stages.voice import Narration, WordTiming
from . import _visemes

SHORT_PAUSE = 0.15  # seconds: a gap between words shorter than this holds a relaxed mouth, a longer one rests (X)
BLINK_SECONDS = 0.15
BLINK_GAP = (2.0, 6.0)  # seconds between the starts of two blinks
FIRST_BLINK = (0.8, 3.0)

# The in-between frame when the mouth closes from one shape to another (it pops open without one, as in
# hand-drawn animation, and closes through one): (from, to) -> in-between.
TWEENS = {
    ("D", "A"): "C", ("D", "B"): "C", ("D", "G"): "C", ("D", "X"): "C",
    ("C", "F"): "E", ("F", "C"): "E", ("D", "F"): "E", ("H", "F"): "E", ("F", "H"): "E",
}  # fmt: skip
CLOSURES = "AG"  # shapes too telling to lose when shorter than a frame (lips meeting, teeth on the lip)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    shape: str


def mouth_cues(words: list[WordTiming], phonemes: list[list[str]], duration: float) -> list[Cue]:
    """The mouth shapes over time, covering [0, duration] without gaps: X before, between phrases and after;
    short gaps inside a phrase hold the previous shape, relaxed."""
    spoken: list[Cue] = []
    for word, ph in zip(words, phonemes):
        start, end = max(0.0, word.start), min(duration, word.end)
        for s, e, shape in _visemes.shapes(_visemes.spread(ph, start, end)):
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


def frame_count(duration: float, fps: int) -> int:
    return max(1, math.ceil(duration * fps - 1e-9))


def mouth_track(cues: list[Cue], fps: int, frames: int) -> str:
    """One shape per frame: the cue at the frame's middle, closures shorter than a frame kept, in-betweens added."""
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
    return _tweened(track)


def _tweened(track: list[str]) -> str:
    out = list(track)
    runs = _runs(track)
    for (a, _a_start, a_len), (b, b_start, b_len) in zip(runs, runs[1:]):
        tween = TWEENS.get((a, b))
        if tween is None:
            continue
        if b_len >= 3:
            out[b_start] = tween
        elif a_len >= 3:
            out[b_start - 1] = tween
    return "".join(out)


def _runs(track: list[str]) -> list[tuple[str, int, int]]:
    """(shape, first frame, length) of each run of equal shapes."""
    runs: list[tuple[str, int, int]] = []
    for i, shape in enumerate(track):
        if runs and runs[-1][0] == shape:
            runs[-1] = (shape, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((shape, i, 1))
    return runs


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
) -> tuple[Timeline, list[Cue]]:
    """The whole timeline, and the mouth cues it was sampled from."""
    frames = frame_count(duration, fps)
    cues = mouth_cues(words, phonemes, duration)
    mouth = mouth_track(cues, fps, frames)
    eyes = blink_track(fps, frames, seed)
    return Timeline(mouth=mouth, eyes=eyes, **motion_tracks(mouth, words, fps, seed, scale, motion)), cues


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
