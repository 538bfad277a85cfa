"""The video watermark: detection rate after H.264, false positives, cost per frame, file-size and PSNR impact.

    .venv/bin/python benchmarks/watermark.py [--videos 20] [--seconds 10] [--size 1280x720] [--no-480p]

For each of `--videos` clips (a slate background from a different headline and seed, every other one with film
grain added so that photo-like texture is covered too, and a slow push-in, pull-out or pan, as compose moves it):

1. the frames are made in Python (an OpenCV warp of the background), marked with `video_watermark.Marker` (on
   the marked copy), then covered with news graphics the way compose burns them in after the mark (a lower-third
   bar with the title, a caption line, a red AI-GENERATED label box);
2. encoded with libx264 CRF 23 (preset veryfast: compose's defaults), then re-encoded from that file with CRF 28
   (preset medium: ffmpeg's default) and, unless --no-480p, scaled to 854x480 at CRF 28;
3. `detect_video` runs on every file, marked and unmarked (the unmarked clips are the false-positive test).

Prints a markdown table for BENCHMARKS.md: detection rate, lowest z on marked clips, highest z on unmarked ones
(the threshold is 6), decoded payload bits, embed cost per frame, detection time, size and PSNR impact.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADLINES = [
    "Breakthrough in Mars Project",
    "City Council Approves New Bridge",
    "Storm Warning Issued for the Coast",
    "Local Team Wins the Championship",
    "Scientists Find Water on a Distant Moon",
    "Markets Close Higher as Tech Rallies",
    "New Library Opens Downtown",
    "Transit Strike Talks Resume",
    "Record Heat Expected This Weekend",
    "Museum Unveils Ancient Manuscript",
]
MOTIONS = ("push-in", "pan-right", "pull-out", "pan-left")
ZOOM = 0.12


def background(index: int, width: int, height: int):
    import numpy as np

    from pipeline.providers.image.slate import render_slate

    headline = HEADLINES[index % len(HEADLINES)]
    sw, sh = round(width * (1 + ZOOM)), round(height * (1 + ZOOM))
    img = np.asarray(render_slate(headline, index, index % 3, sw, sh).convert("RGB"), dtype=np.uint8)
    if index % 2:  # photo-like texture: coloured grain of a few levels, the kind a diffusion image has
        rng = np.random.default_rng(index)
        grain = rng.normal(0, 6, (sh, sw, 1)) + rng.normal(0, 3, (sh, sw, 3))
        img = np.clip(img + grain, 0, 255).astype(np.uint8)
    return headline, img


def frames(img, motion: str, count: int, width: int, height: int):
    """The frames of a slow zoom or pan over `img`, as compose's warp engine moves it (eased, sub-pixel)."""
    import cv2
    import numpy as np

    sh, sw = img.shape[:2]
    top = 1 + ZOOM
    for i in range(count):
        p = i / max(1, count - 1)
        e = 0.5 * p + 0.5 * (0.5 - 0.5 * math.cos(math.pi * p))
        zoom = top**e if motion == "push-in" else top ** (1 - e) if motion == "pull-out" else top
        ww, wh = sw / zoom, sh / zoom
        if motion in ("pan-left", "pan-right"):
            t = e if motion == "pan-right" else 1 - e
            x0 = (sw - ww) * t
        else:
            x0 = (sw - ww) / 2
        y0 = (sh - wh) / 2
        sx, sy = ww / width, wh / height
        m = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]])
        yield cv2.warpAffine(img, m, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)


def graphics(frame, title: str, n: int):
    """Burned-in graphics over the mark, roughly where compose puts them."""
    import cv2

    h, w = frame.shape[:2]
    s = h / 720
    frame[int(600 * s):int(690 * s), int(40 * s):w - int(40 * s)] = (18, 18, 28)
    white, font = (255, 255, 255), cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(frame, title, (int(60 * s), int(655 * s)), font, 1.2 * s, white, max(1, int(3 * s)))
    words = ["and", "the", "rover", "found", "layered", "rock", "today"]
    cv2.putText(frame, " ".join(words[(n // 20) % 5:(n // 20) % 5 + 3]), (int(420 * s), int(560 * s)),
                cv2.FONT_HERSHEY_SIMPLEX, 1.4 * s, (255, 255, 255), max(1, int(4 * s)))
    frame[int(20 * s):int(70 * s), int(20 * s):int(300 * s)] = (200, 20, 30)
    cv2.putText(frame, "AI-GENERATED", (int(34 * s), int(56 * s)), font, 1.0 * s, white, max(1, int(2 * s)))
    return frame


def clip_frames(marker, img, motion: str, count: int, width: int, height: int, title: str, sample: list):
    """The clip's frames: moved, marked when `marker` is given, then covered with graphics. The middle frame before
    and after marking goes to `sample` (for the PSNR of the mark)."""
    for n, f in enumerate(frames(img, motion, count, width, height)):
        g = marker.embed(f, n) if marker is not None else f
        if n == count // 2:
            sample.append((f.copy(), g.copy()))
        yield graphics(g, title, n)


def encode(source, out: Path, width: int, height: int, fps: int = 30) -> None:
    from pipeline.media import run_ffmpeg

    run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", os.fspath(out)], feed=(f.tobytes() for f in source), loglevel="error")


def reencode(src: Path, out: Path, crf: int, scale: str | None = None) -> None:
    from pipeline.media import run_ffmpeg

    args = ["-y", "-i", os.fspath(src)]
    if scale:
        args += ["-vf", f"scale={scale}"]
    run_ffmpeg([*args, "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", os.fspath(out)], loglevel="error")


def psnr(a, b) -> float:
    import numpy as np

    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--no-480p", action="store_true", help="skip the 854x480 CRF 28 re-encode")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    count = round(args.seconds * 30)

    from pipeline.video_watermark import FOUND_Z, METHOD, Marker, detect_video, embed_cost_ms

    marker = Marker(width, height)
    variants = ["crf23", "crf28"] + ([] if args.no_480p else ["480p-crf28"])
    z: dict[tuple[bool, str], list[float]] = {(m, v): [] for m in (True, False) for v in variants}
    bits: dict[str, list[int]] = {v: [] for v in variants}
    detect_s: list[float] = []
    sizes: dict[bool, list[int]] = {True: [], False: []}
    psnr_pre: list[float] = []
    psnr_post: list[float] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsreel-wm-bench-") as tmp:
        work = Path(tmp)
        for i in range(args.videos):
            headline, img = background(i, width, height)
            motion = MOTIONS[i % len(MOTIONS)]
            for marked in (True, False):
                name = f"{i:02d}-{'m' if marked else 'u'}"
                clip = work / f"{name}-crf23.mp4"
                sample: list = []
                source = clip_frames(marker if marked else None, img, motion, count, width, height, headline, sample)
                encode(source, clip, width, height)
                sizes[marked].append(clip.stat().st_size)
                reencode(clip, work / f"{name}-crf28.mp4", 28)
                if "480p-crf28" in variants:
                    reencode(clip, work / f"{name}-480p-crf28.mp4", 28, "854:480")
                if marked:
                    psnr_pre.append(psnr(*sample[0]))
                for v in variants:
                    t0 = time.perf_counter()
                    d = detect_video(work / f"{name}-{v}.mp4")
                    detect_s.append(time.perf_counter() - t0)
                    z[(marked, v)].append(d.score)
                    if marked:
                        bits[v].append(d.bits_matched)
            # the PSNR the mark leaves after encoding: encoded marked vs encoded unmarked, middle frame
            a = _frame_at(work / f"{i:02d}-m-crf23.mp4", count // 2, width, height)
            b = _frame_at(work / f"{i:02d}-u-crf23.mp4", count // 2, width, height)
            psnr_post.append(psnr(a, b))
            scores = " ".join(f"{v}={z[(True, v)][-1]:.1f}/{z[(False, v)][-1]:.1f}" for v in variants)
            print(f"clip {i + 1}/{args.videos}: {motion}, z marked/unmarked {scores}", file=sys.stderr, flush=True)
    total = time.perf_counter() - t_start

    cost = embed_cost_ms(width, height)
    cost_portrait = embed_cost_ms(1080, 1920)
    n = args.videos
    print(f"\n### Video watermark ({METHOD}): {n} clips of {args.seconds:g} s at {width}x{height}, 30 fps\n")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threshold z >= {FOUND_Z:g}; "
          f"benchmark wall time {total:.0f} s.\n")
    print("| video | marked: detected | marked: lowest z | marked: payload bits (min of 64) "
          "| unmarked: false positives | unmarked: highest z |")
    print("|---|---|---|---|---|---|")
    label = {"crf23": "as rendered (CRF 23, veryfast)", "crf28": "re-encoded CRF 28 (medium)",
             "480p-crf28": "scaled to 854x480, CRF 28"}
    for v in variants:
        zm, zu = z[(True, v)], z[(False, v)]
        found = sum(s >= FOUND_Z for s in zm)
        false = sum(s >= FOUND_Z for s in zu)
        print(f"| {label[v]} | {found}/{n} | {min(zm):.1f} | {min(bits[v])} | {false}/{n} | {max(zu):.1f} |")
    unmarked = [s for v in variants for s in z[(False, v)]]
    print(f"\nUnmarked z over all {len(unmarked)} files: mean {statistics.fmean(unmarked):.2f}, "
          f"sd {statistics.pstdev(unmarked):.2f} (N(0, 1) expected).\n")
    print("| cost | value |")
    print("|---|---|")
    print(f"| embed, RGB frame {width}x{height} | {cost['rgb_ms']:.2f} ms |")
    print(f"| embed, luma plane {width}x{height} (I420, as compose streams it) | {cost['luma_ms']:.2f} ms |")
    print(f"| embed, RGB frame 1080x1920 | {cost_portrait['rgb_ms']:.2f} ms |")
    print(f"| detect_video per file (median) | {statistics.median(detect_s) * 1000:.0f} ms |")
    grow = statistics.median(m / u - 1 for m, u in zip(sizes[True], sizes[False]))
    print(f"| file size, marked vs unmarked at CRF 23 (median) | {grow * 100:+.1f} % |")
    print(f"| PSNR of the mark before encoding (median) | {statistics.median(psnr_pre):.1f} dB |")
    print(f"| PSNR encoded marked vs encoded unmarked (median) | {statistics.median(psnr_post):.1f} dB |")


def _frame_at(path: Path, index: int, width: int, height: int):
    import numpy as np

    from pipeline.media import ffmpeg_exe

    out = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", os.fspath(path), "-vf", f"select=eq(n\\,{index})", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(height, width, 3)


if __name__ == "__main__":
    main()
