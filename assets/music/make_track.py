"""Synthesise newsroom-bed.m4a, the background track newsreel ships (CC0: see LICENSE-music.txt).

A calm news bed in A minor at 100 beats a minute, 32 bars (76.8 s): a soft pad on Am - F - C - G (two bars
each), then a low pulse on the beat and a quiet plucked arpeggio in eighths from bar 9. Everything is made here
from sines with numpy (no samples, no third-party material), seeded, so running this again gives the same audio.

    python assets/music/make_track.py            # writes assets/music/newsroom-bed.m4a with the bundled ffmpeg
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

RATE = 48000
BPM = 100
BEAT = 60 / BPM
BAR = 4 * BEAT
BARS = 32
CHORDS = [  # (root MIDI note, chord tones as semitones above the root)
    (57, (0, 3, 7, 12)),  # A minor
    (53, (0, 4, 7, 12)),  # F major
    (48, (0, 4, 7, 12)),  # C major
    (55, (0, 4, 7, 12)),  # G major
]


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def soft_saw(freq: float, t: np.ndarray, harmonics: int = 6) -> np.ndarray:
    """A band-limited, gently rolled-off saw: warm rather than buzzy."""
    out = np.zeros_like(t)
    for n in range(1, harmonics + 1):
        out += np.sin(2 * np.pi * freq * n * t) / (n**1.6)
    return out


def envelope(n: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(n)
    a, r = min(attack, n), min(release, n)
    env[:a] = np.sin(np.linspace(0, np.pi / 2, a))  # equal-power swell in and out: no dip between chords
    env[n - r :] *= np.cos(np.linspace(0, np.pi / 2, r))
    return env


def make() -> np.ndarray:
    rng = np.random.default_rng(7)
    total = int(BARS * BAR * RATE)
    left, right = np.zeros(total), np.zeros(total)
    chord_len = int(2 * BAR * RATE)
    tail = int(1.0 * RATE)
    for bar in range(0, BARS, 2):
        root, tones = CHORDS[(bar // 2) % len(CHORDS)]
        start = int(bar * BAR * RATE)
        n = min(chord_len + tail, total - start)
        t = np.arange(n) / RATE
        env = envelope(n, int(0.8 * RATE), int(1.6 * RATE))
        for k, semis in enumerate(tones):
            f = hz(root - 12 + semis)
            voice = sum(soft_saw(f * (1 + d), t + rng.uniform(0, 1)) for d in (-0.003, 0.0, 0.004)) / 3
            pan = 0.35 + 0.3 * (k % 2)
            left[start : start + n] += 0.11 * env * voice * (1 - pan)
            right[start : start + n] += 0.11 * env * voice * pan
    # Low pulse on every beat and plucked arpeggio in eighths, from bar 9 (the first 8 bars are pad only).
    beat_n = int(BEAT * RATE)
    for beat in range(8 * 4, BARS * 4):
        root, tones = CHORDS[(beat // 8) % len(CHORDS)]
        start = beat * beat_n
        n = min(beat_n, total - start)
        t = np.arange(n) / RATE
        kick = np.sin(2 * np.pi * hz(root - 24) * t) * np.exp(-t * 9)
        left[start : start + n] += 0.22 * kick
        right[start : start + n] += 0.22 * kick
        for half in range(2):
            s = start + half * beat_n // 2
            m = min(beat_n, total - s)
            if m <= 0:
                continue
            tt = np.arange(m) / RATE
            semis = tones[(beat * 2 + half) % len(tones)]
            f = hz(root + 12 + semis)
            pluck = (np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt)) * np.exp(-tt * 7)
            pan = 0.3 if half == 0 else 0.7
            left[s : s + m] += 0.05 * pluck * (1 - pan)
            right[s : s + m] += 0.05 * pluck * pan
    stereo = np.stack([left, right], axis=1)
    # Fade the very ends a little, so a loop point does not click; leave the level moderate (the mixer sets it).
    fade = int(0.05 * RATE)
    stereo[:fade] *= np.linspace(0, 1, fade)[:, None]
    stereo[-fade:] *= np.linspace(1, 0, fade)[:, None]
    return stereo / np.abs(stereo).max() * 0.7


def main(out: Path) -> None:
    import imageio_ffmpeg

    audio = (make() * 32767).astype("<i2")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(RATE), "-ac", "2", "-i", "pipe:0",
        "-c:a", "aac", "-b:a", "112k", "-movflags", "+faststart",
        "-metadata", "title=newsroom bed", "-metadata", "artist=newsreel", "-metadata", "copyright=CC0 1.0",
        str(out),
    ]
    subprocess.run(cmd, input=audio.tobytes(), check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("newsroom-bed.m4a"))
