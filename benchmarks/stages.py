"""The default `newsreel make` end to end: its wall time, each stage's seconds, and the floor, in one run.

    .venv/bin/python benchmarks/stages.py [--runs 3] [--headline "..."]

Each timed make uses --no-cache, so every stage does its work (the model conversion into the cache happens once,
in the first, untimed make). The runner overlaps stages (the image beside the voice, captions and presenter), so
the stages' seconds add up to more than the make's wall time; run.json's `started` gives each stage's start.

The floor: a bare ffmpeg encode of the make's own still image (image.png) with its narration, as long as its video,
at the compose provider's default encoder settings (libx264, its preset, CRF and x264 options; AAC 160k): what
the encoder costs with nothing moving and nothing drawn, measured between the makes so both see the same load.

CPU seconds (user + sys of the child processes) are given beside wall seconds: steadier on a busy machine. The
load average is printed before and after. Prints markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def newsreel(*args: str) -> tuple[float, float]:
    """(wall s, CPU s) of `python -m pipeline ARGS`."""
    c0, t0 = child_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", *args], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0, child_cpu() - c0


def floor(run: Path, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of encoding the run's still image and narration at compose's default settings."""
    from pipeline.media import ffmpeg_exe, probe
    from pipeline.providers.compose._command import x264_options
    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    video = probe(run / "video.mp4")
    p = FfmpegCompose.Params(width=video.video.width, height=video.video.height)
    frames = round(video.duration * p.fps)
    args = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-i", os.fspath(run / "image.png"), "-i", os.fspath(run / "narration.wav"),
        "-filter_complex",
        (
            f"[0:v]scale={p.width}:{p.height}:force_original_aspect_ratio=increase,crop={p.width}:{p.height},"
            f"setsar=1,format=yuv420p,loop=loop={frames - 1}:size=1,setpts=N/({p.fps}*TB)[v];"
            f"[1:a]aresample=48000,aformat=channel_layouts=stereo,apad=whole_dur={video.duration:.6f}[a]"
        ),
        "-map", "[v]", "-map", "[a]", "-t", f"{video.duration:.6f}",
        "-c:v", "libx264", *x264_options(p), "-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(p.fps),
        "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", os.fspath(out),
    ]
    c0, t0 = child_cpu(), time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - t0, child_cpu() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--headline", default="Breakthrough in Mars Project")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        warm, _ = newsreel("make", args.headline, "--out", str(out))  # converts the model once if needed
        per_stage: dict[str, list[float]] = {}
        walls, cpus, floors, floor_cpus, summed, compose_ratio = [], [], [], [], [], []
        for _ in range(args.runs):
            wall, cpu = newsreel("make", args.headline, "--out", str(out), "--no-cache")
            walls.append(wall)
            cpus.append(cpu)
            record = json.loads((out / "run.json").read_text())
            for stage, rec in record["stages"].items():
                per_stage.setdefault(stage, []).append(rec["seconds"])
            summed.append(sum(rec["seconds"] for rec in record["stages"].values()))
            f_wall, f_cpu = floor(out, Path(tmp) / "floor.mp4")
            floors.append(f_wall)
            floor_cpus.append(f_cpu)
            compose_ratio.append(record["stages"]["compose"]["seconds"] / f_wall)
        from pipeline.media import probe

        seconds = probe(out / "video.mp4").duration
        shape = probe(out / "video.mp4").video
        size = f"{shape.width}x{shape.height}"
        cached = [newsreel("make", args.headline, "--out", str(Path(tmp) / f"c{i}"))[0] for i in range(args.runs)]
    load_after = os.getloadavg()

    med = statistics.median
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; load average "
          f"(1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; {seconds:.1f} s video, {size}")
    print(f"first run (may include the one-time model conversion): {warm:.1f} s\n")
    print(f"| step | median s ({args.runs} uncached runs) | min | max |")
    print("|---|---|---|---|")
    for stage, values in per_stage.items():
        print(f"| {stage} | {med(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    print(f"| sum of the stages | {med(summed):.2f} | {min(summed):.2f} | {max(summed):.2f} |")
    print(f"| whole `make` (wall, incl. start-up) | {med(walls):.2f} | {min(walls):.2f} | {max(walls):.2f} |")
    print(f"| whole `make`, CPU s (user + sys) | {med(cpus):.2f} | {min(cpus):.2f} | {max(cpus):.2f} |")
    print(f"| floor: bare encode of the still, same settings | {med(floors):.2f} | {min(floors):.2f} | {max(floors):.2f} |")
    print(f"| floor, CPU s | {med(floor_cpus):.2f} | {min(floor_cpus):.2f} | {max(floor_cpus):.2f} |")
    print(f"| fully cached `make` (wall) | {med(cached):.2f} | {min(cached):.2f} | {max(cached):.2f} |")
    print(f"\nmake / floor: {med(walls) / med(floors):.2f}; compose / floor (per run, median): {med(compose_ratio):.2f}; "
          f"compose: {seconds / med(per_stage['compose']):.1f}x real time")


if __name__ == "__main__":
    main()
