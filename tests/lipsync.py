"""Lip-sync measured on a finished video, from its pixels and its sound (not from the presenter's timeline).

- openness per frame: the dark pixels of the mouth's inside in the mouth box (run.json's, frame pixels), grown by
  the head's largest sway, on the decoded frames;
- loudness per frame: the RMS of the video's own soundtrack over each frame's 1/fps window, in dB above a floor;
- mouth changes per frame: how much the mouth box changed from the frame before, after undoing the head's sway
  (the best of small whole-pixel shifts), so that a head moving is not a mouth moving.

Frames and sound come from the imageio-ffmpeg binary. `python -m tests.lipsync RUN_FOLDER` prints the numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SWAY = 8  # frame pixels: the head and body move less than this from the rest pose (see `_timeline.motion_tracks`)
RATE = 16000  # Hz, the soundtrack decoded for the envelope
FLOOR_DB = -50.0  # dB below full scale: quieter is silence
# Mean absolute luma change of the mouth box (head sway undone) above which the mouth changed shape. On the default
# video the changes are two clear groups: under 1.5 (the encoder's noise, a head moving) and over 6 (a new shape).
CHANGED = 3.0


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class Measured:
    fps: float
    frames: np.ndarray  # indices of the anchor's frames measured
    openness: np.ndarray  # dark mouth-inside pixels per measured frame
    loudness: np.ndarray  # dB above FLOOR_DB per measured frame
    change: np.ndarray  # mean absolute luma change of the mouth from the frame before, head sway undone
    threshold: float  # the luma below which a mouth pixel counts as the mouth's dark inside

    def pearson(self) -> float:
        return float(np.corrcoef(self.openness, self.loudness)[0, 1])


def anchor_frames(record: dict, fps: float) -> tuple[list[tuple[int, int]], list[int]]:
    """[(first, end)] frames of the shots showing the anchor (its own and the callouts beside it: those with a mouth
    box), and the mouth box [x, y, w, h] they share."""
    shots = [s for s in record["stages"]["compose"]["notes"].get("shots", []) if s.get("mouth_box")]
    if not shots:
        raise ValueError("run.json has no anchor shots")
    boxes = {tuple(s["mouth_box"]) for s in shots}
    if len(boxes) != 1:
        raise ValueError(f"the anchor shots have different mouth boxes: {boxes}")
    spans = [(round(s["start"] * fps), round(s["end"] * fps)) for s in shots]
    return spans, list(boxes.pop())


def decode_region(video: Path, box: list[int]) -> np.ndarray:
    """Every frame's luma in `box` [x, y, w, h]: (frames, h, w) uint8."""
    x, y, w, h = box
    out = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", str(video), "-vf", f"crop={w}:{h}:{x}:{y},format=gray",
         "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, h, w)


def decode_audio(video: Path) -> np.ndarray:
    """The video's soundtrack, mono float in [-1, 1] at RATE."""
    out = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", str(video), "-vn", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(out, np.int16).astype(np.float64) / 32768.0


def loudness_per_frame(audio: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """dB above FLOOR_DB of each frame's RMS over [n / fps, (n + 1) / fps)."""
    out = np.zeros(frames)
    for n in range(frames):
        chunk = audio[int(n * RATE / fps) : int((n + 1) * RATE / fps)]
        if chunk.size:
            rms = float(np.sqrt(np.mean(chunk**2)))
            out[n] = max(0.0, 20 * np.log10(max(rms, 1e-9)) - FLOOR_DB)
    return out


def mouth_change(previous: np.ndarray, current: np.ndarray, inner: tuple[slice, slice], reach: int = 4) -> float:
    """Mean absolute luma difference of the mouth (`inner` of `current`) from the best-matching place in
    `previous` within `reach` pixels: a head moved by a few pixels changes nothing, a new mouth shape does."""
    ys, xs = inner
    cur = current[ys, xs].astype(np.int16)
    best = np.inf
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            prev = previous[ys.start + dy : ys.stop + dy, xs.start + dx : xs.stop + dx].astype(np.int16)
            best = min(best, float(np.abs(cur - prev).mean()))
    return best


def measure(folder: Path) -> Measured:
    record = json.loads((folder / "run.json").read_text())
    video = folder / "video.mp4"
    fps = float(record["stages"]["compose"]["params"]["fps"])
    spans, (x, y, w, h) = anchor_frames(record, fps)
    grown = [x - SWAY, y - SWAY, w + 2 * SWAY, h + 2 * SWAY]
    region = decode_region(video, grown)
    audio = decode_audio(video)
    loud = loudness_per_frame(audio, fps, len(region))
    # The dark inside of the mouth: well below the face around it. The threshold comes from this video's own
    # frames (half the region's typical luma, at most 45), so a darker or lighter skin keeps the inside apart.
    inner = (slice(SWAY, SWAY + h), slice(SWAY, SWAY + w))
    threshold = min(45.0, 0.5 * float(np.median(region[spans[0][0] : spans[0][1]])))
    frames, openness, change = [], [], []
    for first, end in spans:
        for n in range(first + 1, min(end, len(region))):  # +1: a shot's first frame has no frame before in it
            frames.append(n)
            openness.append(int((region[n] < threshold).sum()))
            change.append(mouth_change(region[n - 1], region[n], inner))
    idx = np.array(frames)
    return Measured(fps, idx, np.array(openness, float), loud[idx], np.array(change), threshold)


def main() -> None:
    folder = Path(sys.argv[1])
    m = measure(folder)
    smooth = lambda v: np.convolve(v, np.ones(7) / 7, mode="same")  # noqa: E731
    print(f"{len(m.frames)} anchor frames, dark threshold {m.threshold:.0f}, "
          f"{int((m.change > CHANGED).sum())} mouth changes")
    print(f"pearson r per frame: {m.pearson():.3f}; over 233 ms: "
          f"{np.corrcoef(smooth(m.openness), smooth(m.loudness))[0, 1]:.3f}")


if __name__ == "__main__":
    main()
