"""x264 settings for compose, chosen by measured quality: each candidate encodes the same drawn frames, and the table
gives its speed (CPU and wall seconds), its file size and its SSIM against the drawn frames and against a reference
encode at the settings compose used before this benchmark (libx264 veryfast, CRF 23, x264's default threads).

    .venv/bin/python benchmarks/encoder.py [--sizes 1280x720,1080x1920] [--seconds 30] [--runs 3]
                                           [--candidates NAME,NAME...]

The frames: the compose benchmark's inputs (benchmarks/compose.py: one slate background pushed in, espeak narration,
captions, label, lower third, BREAKING, ticker, bug) rendered by `compose.ffmpeg` near-losslessly (CRF 1,
ultrafast) and decoded once into raw I420 in /dev/shm, so every candidate reads the same frames from RAM and does
nothing but encode them (video only: the sound's encode is the same for every candidate).

Runs are interleaved (run 1 of every candidate, then run 2, ...) so a load change from other jobs hits every
candidate alike; medians of `--runs`. CPU seconds (user + sys of the ffmpeg child) are the steadier measure on a
busy machine; the load average is printed before and after. SSIM is ffmpeg's `ssim` filter ("All": Y, U and V
weighted 4:1:1), computed once per candidate (an encode is deterministic for its settings and thread count...
nearly: frame threads can change decisions slightly, which the SSIM of one encode cannot show).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline.providers.compose._command import TUNED  # noqa: E402 - after the path above


def chosen_plus(option: str) -> list[str]:
    """compose's chosen settings (superfast, CRF 23, `_command.TUNED`'s x264 options) with one more x264 option."""
    return ["-preset", "superfast", "-crf", "23", "-x264-params", f"{TUNED['superfast']}:{option}"]


# name -> x264 options after "-c:v libx264" (the reference first). x264-params keys: see `x264 --fullhelp`.
CANDIDATES: dict[str, list[str]] = {
    "reference: veryfast crf23": ["-preset", "veryfast", "-crf", "23"],
    "faster crf23": ["-preset", "faster", "-crf", "23"],
    "veryfast crf23 threads2": ["-preset", "veryfast", "-crf", "23", "-threads", "2"],
    "veryfast crf23 rc-lookahead5": ["-preset", "veryfast", "-crf", "23", "-x264-params", "rc-lookahead=5"],
    "veryfast crf23 sliced-threads": ["-preset", "veryfast", "-crf", "23", "-x264-params", "sliced-threads=1"],
    "veryfast crf23 me=dia subme=1": ["-preset", "veryfast", "-crf", "23", "-x264-params", "me=dia:subme=1"],
    "veryfast crf23 tune fastdecode": ["-preset", "veryfast", "-crf", "23", "-tune", "fastdecode"],
    "superfast crf23": ["-preset", "superfast", "-crf", "23"],
    "superfast crf26": ["-preset", "superfast", "-crf", "26"],
    "superfast crf28": ["-preset", "superfast", "-crf", "28"],
    "superfast crf23 mbtree rc-lookahead10": ["-preset", "superfast", "-crf", "23", "-x264-params",
                                              "mbtree=1:rc-lookahead=10"],
    "superfast crf23 mbtree rc-lookahead5": ["-preset", "superfast", "-crf", "23", "-x264-params",
                                             "mbtree=1:rc-lookahead=5"],
    "superfast crf22 mbtree rc-lookahead10": ["-preset", "superfast", "-crf", "22", "-x264-params",
                                              "mbtree=1:rc-lookahead=10"],
    "superfast crf23 mbtree rc-lookahead10 threads2": ["-preset", "superfast", "-crf", "23", "-threads", "2",
                                                       "-x264-params", "mbtree=1:rc-lookahead=10"],
    "superfast crf23 mbtree rc-lookahead10 subme0": ["-preset", "superfast", "-crf", "23", "-x264-params",
                                                     "mbtree=1:rc-lookahead=10:subme=0"],
    # Round 4 (issue 16, evening): what else the chosen settings could drop.
    **{f"superfast crf23 mbtree rc-lookahead10 {name}": chosen_plus(option) for name, option in (
        ("no-deblock", "no-deblock=1"), ("partitions-none", "partitions=none"), ("no-8x8dct", "8x8dct=0"),
        ("bframes0", "bframes=0"), ("aq0", "aq-mode=0"), ("b-adapt0", "b-adapt=0"),
    )},
    "ultrafast crf23 cabac mbtree rc-lookahead10": ["-preset", "ultrafast", "-crf", "23", "-x264-params",
                                                    "cabac=1:mbtree=1:rc-lookahead=10"],
    "ultrafast crf23 cabac mbtree rc-lookahead10 deblock aq": [
        "-preset", "ultrafast", "-crf", "23", "-x264-params", "cabac=1:mbtree=1:rc-lookahead=10:deblock=0,0:aq-mode=1"],
    "ultrafast crf23": ["-preset", "ultrafast", "-crf", "23"],
    "ultrafast crf28": ["-preset", "ultrafast", "-crf", "28"],
    "ultrafast crf23 tune zerolatency": ["-preset", "ultrafast", "-crf", "23", "-tune", "zerolatency"],
}


def child_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def ffmpeg(args: list[str]) -> str:
    from pipeline.media import ffmpeg_exe

    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ffmpeg failed: {' '.join(args)}\n{done.stderr[-2000:]}")
    return done.stderr


def raw_input(frames: Path, width: int, height: int) -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-framerate", "30", "-i",
            os.fspath(frames)]


def encode(frames: Path, width: int, height: int, options: list[str], out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one encode of the raw frames with `options`."""
    c0, t0 = child_cpu(), time.perf_counter()
    ffmpeg(["-loglevel", "error", *raw_input(frames, width, height), "-c:v", "libx264", *options,
            "-pix_fmt", "yuv420p", "-profile:v", "high", "-f", "mp4", os.fspath(out)])
    return time.perf_counter() - t0, child_cpu() - c0


def ssim(video: Path, against: list[str]) -> float:
    """SSIM All of `video` (first input) against `against` (ffmpeg input arguments)."""
    log = ffmpeg(["-loglevel", "info", "-i", os.fspath(video), *against, "-lavfi", "[0:v][1:v]ssim", "-f", "null",
                  "-"])
    found = re.findall(r"All:([0-9.]+)", log)
    if not found:
        raise SystemExit(f"no SSIM in ffmpeg's output:\n{log[-1500:]}")
    return float(found[-1])


def drawn_frames(root: Path, width: int, height: int, seconds: float, ram: Path) -> Path:
    """The compose provider's frames (graphics, ticker and all), near-lossless, decoded once to raw I420."""
    from compose import GRAPHICS, make_inputs

    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    script, image, voice, captions = make_inputs(root, width, height)
    work = root / "drawn"
    work.mkdir()
    params = {"width": width, "height": height, "encoder": "libx264", "crf": 1, "preset": "ultrafast", **GRAPHICS}
    video = FfmpegCompose(params).run(script=script, image=image, voice=voice, captions=captions, workdir=work,
                                      progress=lambda f, m: None)
    raw = ram / f"newsreel-encoder-{os.getpid()}-{width}x{height}.yuv"
    ffmpeg(["-loglevel", "error", "-i", os.fspath(video.path), "-frames:v", str(round(seconds * 30)), "-an",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", os.fspath(raw)])
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1280x720")
    parser.add_argument("--seconds", type=float, default=30.0, help="how much of the 60 s video to encode")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candidates", default="", help="names separated by commas (default: all)")
    args = parser.parse_args()
    names = [n for n in args.candidates.split(",") if n] or list(CANDIDATES)
    reference = next(iter(CANDIDATES))
    if reference not in names:
        names.insert(0, reference)

    ram = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            frames = drawn_frames(root, width, height, args.seconds, ram)
            try:
                loads = [os.getloadavg()[0]]
                timings: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
                for run in range(args.runs):
                    for n in names:
                        timings[n].append(encode(frames, width, height, CANDIDATES[n], root / f"{names.index(n)}.mp4"))
                    loads.append(os.getloadavg()[0])
                    print(f"{size} run {run + 1}/{args.runs} done, load {loads[-1]:.2f}", file=sys.stderr, flush=True)
                ref_mp4 = root / f"{names.index(reference)}.mp4"
                source = raw_input(frames, width, height)
                rows = []
                for n in names:
                    mp4 = root / f"{names.index(n)}.mp4"
                    wall = statistics.median(w for w, _ in timings[n])
                    cpu = statistics.median(c for _, c in timings[n])
                    rows.append((n, wall, cpu, mp4.stat().st_size, ssim(mp4, source),
                                 1.0 if n == reference else ssim(mp4, ["-i", os.fspath(ref_mp4)])))
            finally:
                frames.unlink(missing_ok=True)
        ref = rows[0]
        print(f"\n{size}, {args.seconds:g} s ({round(args.seconds * 30)} frames), {os.cpu_count()} cores, "
              f"median of {args.runs} interleaved runs; load average (1 min) "
              + ", ".join(f"{v:.2f}" for v in loads) + " (before, after each round)\n")
        print("| candidate | CPU s | wall s | x real time (wall) | CPU / ref | size MB | size / ref "
              "| SSIM vs drawn | SSIM vs ref |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n, wall, cpu, size_b, s_src, s_ref in rows:
            print(f"| {n} | {cpu:.2f} | {wall:.2f} | {args.seconds / wall:.1f}x | {cpu / ref[2]:.2f} "
                  f"| {size_b / 1e6:.2f} | {size_b / ref[3]:.2f} | {s_src:.5f} | {s_ref:.5f} |")


if __name__ == "__main__":
    main()
