"""The tail shared by the voices that speak sentence by sentence (`piper`, `openai-tts`).

Both speak each sentence separately and join them with pauses, so each sentence's span in the narration is known.
Then: the one-minute fit (`Fit.second_pass`: one more pass at a scaled speech setting when the first misses the
target), `write_wav` (the narration WAV) and `hear`: the WAV heard by `pipeline.align` (Whisper) and matched to the
script (the alignment score lands in Narration.notes; a sentence the audio does not say fails the stage by name).
openai-tts times its words by hearing them; piper has its own alignment and hears only when asked to check it.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import align
from ...provider import ProgressFn

PEAK = 0.89  # the narration is scaled so its loudest sample is here (-1 dBFS)


@dataclass(frozen=True)
class Fit:
    """How a voice meets `target_seconds`: one more pass at a scaled speech setting when the first pass is off by
    more than `tolerance` of the target. Speech time is taken as proportional to the setting (`slower_is_larger`,
    like piper's length_scale) or to its inverse (like a speed); the sentence pauses do not scale. The new setting
    moves by at most `span` of the old one, stays within `bounds` and is rounded to `digits`."""

    tolerance: float
    span: float
    bounds: tuple[float, float]
    digits: int
    slower_is_larger: bool

    def second_pass(self, setting: float, duration: float, sentences: int, params: Any) -> float | None:
        """The setting for a second pass after `duration` seconds spoken at `setting`, or None when there is none
        to make (`params.fit` off, close enough, or nothing to scale). `params` has `fit`, `target_seconds` and
        `sentence_pause` (seconds between each of the `sentences`)."""
        target = params.target_seconds
        if not params.fit or abs(duration - target) <= self.tolerance * target:
            return None
        fixed = params.sentence_pause * (sentences - 1)
        speech, wanted = duration - fixed, target - fixed
        if speech <= 0 or wanted <= 0:
            return None
        lo, hi = max(self.bounds[0], setting * (1 - self.span)), min(self.bounds[1], setting * (1 + self.span))
        scaled = setting * wanted / speech if self.slower_is_larger else setting * speech / wanted
        new = round(min(hi, max(lo, scaled)), self.digits)
        return None if new == setting else new


def write_wav(audio: Any, rate: int, workdir: Path) -> Path:
    """Write `audio` (mono float samples) as workdir/narration.wav, 16-bit, its peak at PEAK."""
    import numpy as np

    samples = np.clip(np.round(audio * (PEAK / float(np.abs(audio).max())) * 32767.0), -32767, 32767).astype("<i2")
    path = Path(workdir) / "narration.wav"
    with open(path, "wb") as fh, wave.open(fh, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def hear(
    path: Path,
    duration: float,
    spans: Sequence[tuple[float, float]],
    sentences: Sequence[str],
    params: Any,
    progress: ProgressFn,
) -> align.Alignment:
    """Time the script's words in the narration at `path` by hearing it (`pipeline.align`, Whisper).

    `spans` are the sentences' (start, end) seconds; `params` has `language`, `align_model` and `min_alignment`.
    Progress runs from 0.65 to 0.99. Raises NewsreelError naming the first sentence the audio does not say.
    """

    def heard(fraction: float, message: str) -> None:
        progress(0.65 + 0.34 * fraction, f"aligning: {message}")

    return align.align_audio(
        path,
        sentences,
        duration=duration,
        language=params.language,
        model=params.align_model,
        spans=spans,
        min_score=params.min_alignment,
        progress=heard,
    )


def write_and_align(
    audio: Any,
    rate: int,
    spans: Sequence[tuple[float, float]],
    sentences: Sequence[str],
    params: Any,
    workdir: Path,
    progress: ProgressFn,
) -> tuple[Path, align.Alignment]:
    """`write_wav`, then `hear`: the narration's path and its alignment."""
    path = write_wav(audio, rate, workdir)
    return path, hear(path, len(audio) / rate, spans, sentences, params, progress)
