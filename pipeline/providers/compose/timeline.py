"""The timeline of a composed video, shared by the compose providers: how many frames, which background shows
from which frame to which, each background's camera move, the crossfade, and where the intro, the narration and
the outro fall (`Timing`, what the graphics templates see)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...stages.script import Script
from ...stages.voice import Narration
from ._graphics import Timing
from ._motion import scene_motions


@dataclass(frozen=True)
class Timeline:
    """The video's frames: which background shows when, moving how, and the intro/narration/outro times."""

    frames: int  # the whole video
    fps: int
    spans: list[tuple[int, int, int]]  # (image index, start frame, end frame), tiling 0..frames
    motions: list[str]  # per span
    fade: int  # crossfade frames
    timing: Timing

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def timeline(script: Script, voice: Narration, n_images: int, p: Any, reveal_seconds: float = 0.0) -> Timeline:
    """The Timeline for these inputs and a compose provider's parameters `p` (fps, intro/outro and their seconds,
    tail_seconds, crossfade, motion): the narration plus its tail, after the intro and before the outro, and the
    reveal card (`reveal_seconds` long, 0 for none) last of all."""
    fps = p.fps
    intro = round(p.intro_seconds * fps) if p.intro else 0
    body = max(1, round((voice.duration + p.tail_seconds) * fps))
    outro = round(p.outro_seconds * fps) if p.outro else 0
    card = round(reveal_seconds * fps)
    frames = intro + body + outro + card
    fade = round(p.crossfade * fps)
    spans = scene_spans(script, voice, n_images, body, fps, min_len=max(2, 2 * fade))
    shifted = []
    for k, (i, s, e) in enumerate(spans):
        shifted.append((i, 0 if k == 0 else s + intro, frames if k == len(spans) - 1 else e + intro))
    timing = Timing(frames / fps, intro / fps, (intro + body) / fps, bool(intro), bool(outro),
                    reveal_start=(frames - card) / fps if card else None)
    return Timeline(frames, fps, shifted, scene_motions(p.motion, len(shifted)), fade, timing)


def scene_spans(script: Script, voice: Narration, n_images: int, frames: int, fps: int,
                min_len: int | None = None) -> list[tuple[int, int, int]]:
    """(image index, start frame, end frame) for each background shown, covering 0..frames without gaps.

    Scene i shows image i from the first word of its first sentence; the first starts at 0 and the last runs to the
    end (tail included). Scenes beyond the number of images are shown over the last image. A scene too short to
    crossfade (under 2 crossfades) keeps the previous image on screen; a short first scene gives its time to the next.
    """
    count = min(n_images, len(script.scenes))
    if count <= 1:
        return [(0, 0, frames)]
    starts = [0]
    for scene in script.scenes[1:count]:
        first = min(scene.sentences) if scene.sentences else None
        t = next((w.start for w in voice.words if first is not None and w.sentence >= first), None)
        if t is None:
            break
        starts.append(max(starts[-1], min(frames, round(t * fps))))
    if min_len is None:
        min_len = round(0.5 * fps) * 2
    spans: list[list[int]] = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else frames
        if not spans:
            spans.append([i, s, e])
        elif e - s < min_len:
            spans[-1][2] = e  # too short: keep showing the previous image
        elif spans[-1][2] - spans[-1][1] < min_len:
            spans[-1] = [i, spans[-1][1], e]  # the first scene was too short: this image takes over its time
        else:
            spans.append([i, s, e])
    return [(i, s, e) for i, s, e in spans]

