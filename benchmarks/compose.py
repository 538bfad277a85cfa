"""Compose-stage speed: our render against the encoder's floor and against a moviepy render of the same content.

    .venv/bin/python benchmarks/compose.py [--runs 3] [--sizes 1280x720,1080x1920] [--engines warp,zoompan,perspective]
                                           [--moviepy-runs 3]

The same 60 s inputs for every render: one slate background, an espeak narration (fitted to 60 s), its captions,
and the full graphics (label, lower third, BREAKING tag, ticker, bug). Renders, each `--runs` times (the median
is reported), in the same run so the ratios share the machine's state:

- floor: a bare ffmpeg encode of the still image with the narration, same encoder settings (the compose
  provider's default libx264 options, AAC 160k): what the encoder costs with nothing moving and nothing drawn;
- encoder alone: the same encode of our finished frames (decoded once into RAM): what the encoder costs for the
  moving picture with no drawing at all, so the table separates the encoder's share of the gap from ours;
- ours: the compose provider, per engine (warp is the default); with --before, also the first engine as it was
  before issue 16 (libx264 veryfast without extra options, the ticker's text drawn by libass on every frame);
- moviepy: a CompositeVideoClip of the same content (a slow push-in on the image, PIL-rendered caption and
  graphics images as ImageClips, no ImageMagick), the way the peer projects render;
- moviepy provider: newsreel's own `compose.moviepy` (MoviePy clips, libass-drawn graphics) on the same inputs, with
  the same graphics but the ticker, which it does not draw; runs as often as the moviepy row.

Prints a markdown table for BENCHMARKS.md with wall seconds, times real time, ratios, CPU seconds (this process
and its children: steadier than wall time on a busy machine) and the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "Scientists working on the Mars project say a rover has found layered rock at the bottom of an ancient lake.",
    "The layers were laid down in still water over thousands of years, the team said on Tuesday.",
    "Samples drilled from the rock will be sealed and left for a later mission to bring back to Earth.",
    "If the lake held water for long enough, it may have been a place where simple life could have lived.",
    "Engineers steered the rover to the site over six weeks, avoiding sand traps and sharp stones.",
    "The findings were shared with researchers around the world before being published.",
    "More images are expected next week as the rover climbs toward the old shoreline.",
    "For now, the team says, the rock tells a story of a wetter and warmer Mars.",
]
TITLE = "Breakthrough in Mars Project: rover finds ancient lake bed"
TICKER = "Markets close higher as tech rallies; Storm warning issued for the coast; Transit strike talks resume"
GRAPHICS = {"breaking": True, "ticker": TICKER}


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn) -> tuple[float, float]:
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu_seconds() - c0


def default_x264() -> list[str]:
    """The compose provider's default libx264 options (preset, CRF, x264 options)."""
    from pipeline.providers.compose._command import x264_options
    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    return x264_options(FfmpegCompose.Params())


def make_inputs(root: Path, width: int, height: int):
    from pipeline.providers.captions.subtitles import SubtitleCaptions
    from pipeline.providers.image.slate import SlateImage
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages import Script

    quiet = lambda f, m: None
    script = Script(headline="Breakthrough in Mars Project", title=TITLE, sentences=SENTENCES, image_prompt="mars")
    for name in ("image", "voice", "captions"):
        (root / name).mkdir(parents=True, exist_ok=True)
    image = SlateImage({"width": width, "height": height}).run(script=script, workdir=root / "image", progress=quiet)
    voice = EspeakVoice({"target_seconds": 60.0}).run(script=script, workdir=root / "voice", progress=quiet)
    captions = SubtitleCaptions({"width": width, "height": height}).run(
        script=script, voice=voice, workdir=root / "captions", progress=quiet
    )
    return script, image, voice, captions


def render_ours(inputs, root: Path, width: int, height: int, engine: str, before: bool = False) -> Path:
    """`before`: as compose was before issue 16 (libx264 veryfast, stock; the ticker's text drawn by libass on
    every frame), for the row that compares the two in the same run."""
    import shutil
    from unittest import mock

    from pipeline.providers.compose import _scroll
    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    script, image, voice, captions = inputs
    work = root / f"ours-{engine}{'-before' if before else ''}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    params = {"width": width, "height": height, "engine": engine, "encoder": "libx264", **GRAPHICS}
    if before:
        params.update(preset="veryfast", x264="")
    with mock.patch.object(_scroll, "parse", lambda *a, **k: None) if before else contextlib.nullcontext():
        video = FfmpegCompose(params).run(script=script, image=image, voice=voice, captions=captions, workdir=work,
                                          progress=lambda f, m: None)
    return video.path


def render_moviepy_provider(inputs, root: Path, width: int, height: int) -> Path:
    import shutil

    from pipeline.providers.compose.moviepy import MoviepyCompose

    script, image, voice, captions = inputs
    work = root / "moviepy-provider"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    params = {"width": width, "height": height, **{k: v for k, v in GRAPHICS.items() if k != "ticker"}}
    video = MoviepyCompose(params).run(script=script, image=image, voice=voice, captions=captions, workdir=work,
                                       progress=lambda f, m: None)
    return video.path


def render_floor(inputs, root: Path, width: int, height: int, duration: float) -> Path:
    """The still image, cover-fitted (decoded and scaled once, then repeated), and the narration: same settings."""
    from pipeline.media import run_ffmpeg

    _, image, voice, _ = inputs
    frames = round(duration * 30)
    out = root / "floor.mp4"
    run_ffmpeg([
        "-y", "-i", os.fspath(image.images[0].path), "-i", os.fspath(voice.path),
        "-filter_complex",
        (
            f"[0:v]scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1,"
            f"format=yuv420p,loop=loop={frames - 1}:size=1,setpts=N/(30*TB)[v];"
            f"[1:a]aresample=48000,aformat=channel_layouts=stereo,apad=whole_dur={duration:.6f}[a]"
        ),
        "-map", "[v]", "-map", "[a]", "-t", f"{duration:.6f}",
        "-c:v", "libx264", *default_x264(), "-pix_fmt", "yuv420p", "-profile:v", "high",
        "-r", "30", "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", os.fspath(out),
    ], loglevel="error")
    return out


def decode_frames(video: Path, out: Path) -> Path:
    """Our finished video's frames as raw I420 (for the encoder-alone row)."""
    from pipeline.media import run_ffmpeg

    run_ffmpeg(["-y", "-i", os.fspath(video), "-an", "-f", "rawvideo", "-pix_fmt", "yuv420p", os.fspath(out)],
               loglevel="error")
    return out


def render_encoder_only(inputs, root: Path, width: int, height: int, duration: float, frames: Path) -> Path:
    """x264 alone on our finished frames, read from RAM, with the narration and the floor's settings: what the
    encoder costs for moving pictures, with no frame drawing at all. The gap between this row and the floor is the
    encoder's, not ours."""
    from pipeline.media import run_ffmpeg

    _, _, voice, _ = inputs
    out = root / "encoder-only.mp4"
    run_ffmpeg([
        "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-framerate", "30",
        "-i", os.fspath(frames), "-i", os.fspath(voice.path),
        "-filter_complex", f"[1:a]aresample=48000,aformat=channel_layouts=stereo,apad=whole_dur={duration:.6f}[a]",
        "-map", "0:v", "-map", "[a]", "-t", f"{duration:.6f}",
        "-c:v", "libx264", *default_x264(), "-pix_fmt", "yuv420p", "-profile:v", "high",
        "-r", "30", "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", os.fspath(out),
    ], loglevel="error")
    return out


def _pil_text_clip(text: str, size: int, colour, box=None, pad=(0, 0), stroke=0, width_limit=None):
    """An RGBA image of `text` (lines split on \\n) with an optional box behind it, as numpy (for ImageClip)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from pipeline import assets

    font = ImageFont.truetype(os.fspath(assets.FONT_BOLD), size)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    bbox = probe.multiline_textbbox((0, 0), text, font=font, stroke_width=stroke, align="center")
    w = (width_limit or (bbox[2] - bbox[0])) + 2 * pad[0]
    h = bbox[3] - bbox[1] + 2 * pad[1]
    im = Image.new("RGBA", (int(w), int(h)), box or (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.multiline_text((pad[0] - bbox[0], pad[1] - bbox[1]), text, font=font, fill=colour, stroke_width=stroke,
                     stroke_fill=(0, 0, 0, 255), align="center")
    return np.asarray(im)


def render_moviepy(inputs, root: Path, width: int, height: int, duration: float) -> Path:
    """What the peers do: a CompositeVideoClip of an ImageClip with a push-in, caption ImageClips, graphics."""
    from moviepy import AudioFileClip, CompositeAudioClip, CompositeVideoClip, ImageClip
    from PIL import Image

    from pipeline.providers.compose._motion import cover

    _, image, voice, captions = inputs
    u = min(width, height) / 720
    zoom = 0.12
    bg_img = cover(Image.open(image.images[0].path).convert("RGB"), round(width * (1 + zoom)), round(height * (1 + zoom)))
    import numpy as np

    bg_arr = np.asarray(bg_img)

    def frame(t):  # push-in, cropped around the centre and resized to the frame (PIL, per frame)
        z = 1.0 + zoom * min(1.0, t / duration)
        sw, sh = bg_img.size
        cw, ch = sw / z, sh / z
        x0, y0 = (sw - cw) / 2, (sh - ch) / 2
        return np.asarray(Image.fromarray(bg_arr).resize((width, height), Image.Resampling.BILINEAR,
                                                         box=(x0, y0, x0 + cw, y0 + ch)))

    from moviepy import VideoClip

    layers = [VideoClip(frame, duration=duration)]
    label = _pil_text_clip("AI-GENERATED", round(22 * u), (255, 255, 255, 255), box=(224, 31, 46, 255),
                           pad=(round(14 * u), round(8 * u)))
    layers.append(ImageClip(label, duration=duration).with_position((round(48 * u), round(36 * u))))
    bar = _pil_text_clip(TITLE, round(30 * u), (255, 255, 255, 255), box=(14, 26, 42, 230),
                         pad=(round(22 * u), round(15 * u)))
    layers.append(ImageClip(bar, duration=duration).with_position((round(48 * u), height - round(120 * u) - bar.shape[0])))
    unit = TICKER + "   \u2022   "
    unit_w = _pil_text_clip(unit, round(22 * u), (255, 255, 255, 255))[..., 3].any(axis=0).nonzero()[0][-1] + 1
    copies = int(width // unit_w) + 2
    tick = _pil_text_clip(unit * copies, round(22 * u), (255, 255, 255, 255), box=(8, 15, 23, 240),
                          pad=(0, round(9 * u)))
    speed = 110 * u
    layers.append(ImageClip(tick, duration=duration).with_position(
        lambda t: (-((speed * t) % unit_w), height - tick.shape[0])))
    for cue in captions.cues:
        img = _pil_text_clip(cue.text, round(0.065 * min(width, height)), (255, 255, 255, 255), stroke=3)
        clip = ImageClip(img, duration=cue.end - cue.start).with_start(cue.start)
        layers.append(clip.with_position(("center", height - round(260 * u) - img.shape[0])))
    video = CompositeVideoClip(layers, size=(width, height), use_bgclip=True).with_duration(duration)
    narration = AudioFileClip(os.fspath(voice.path))
    video = video.with_audio(CompositeAudioClip([narration]).with_duration(duration))
    out = root / "moviepy.mp4"
    video.write_videofile(os.fspath(out), fps=30, codec="libx264", preset="veryfast", audio_codec="aac",
                          audio_bitrate="160k", ffmpeg_params=["-crf", "23", "-pix_fmt", "yuv420p"], threads=2,
                          logger=None)
    narration.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--moviepy-runs", type=int, default=None,
                        help="default: --runs; for both moviepy rows; 0 skips them")
    parser.add_argument("--sizes", default="1280x720,1080x1920")
    parser.add_argument("--engines", default="warp,zoompan,perspective")
    parser.add_argument("--before", action="store_true",
                        help="also render the first engine as compose did before issue 16 (veryfast, libass ticker)")
    args = parser.parse_args()
    moviepy_runs = args.runs if args.moviepy_runs is None else args.moviepy_runs
    engines = [e for e in args.engines.split(",") if e]

    from pipeline.media import probe

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(x) for x in size.split("x"))
            root = Path(tmp) / size
            root.mkdir()
            inputs = make_inputs(root, width, height)
            render_ours(inputs, root, width, height, engines[0])  # warm-up: imports, font cache, page cache
            duration = probe(root / f"ours-{engines[0]}" / "video.mp4").duration
            ram = Path("/dev/shm") if Path("/dev/shm").is_dir() else root
            frames = decode_frames(root / f"ours-{engines[0]}" / "video.mp4", ram / f"newsreel-bench-{os.getpid()}.yuv")
            results: dict[str, list[tuple[float, float]]] = {"floor": [], "encoder": []}
            for e in engines:
                results[e] = []
            if args.before:
                results["before"] = []
            if moviepy_runs:
                results["moviepy"] = []
                results["moviepy-provider"] = []
            for run in range(max(args.runs, moviepy_runs)):
                if run < args.runs:
                    inp = (inputs, root, width, height)
                    results["floor"].append(timed(lambda a=inp, d=duration: render_floor(*a, d)))
                    results["encoder"].append(timed(lambda a=inp, d=duration, f=frames: render_encoder_only(*a, d, f)))
                    for e in engines:
                        results[e].append(timed(lambda a=inp, e=e: render_ours(*a, e)))
                    if args.before:
                        results["before"].append(timed(lambda a=inp: render_ours(*a, engines[0], before=True)))
                if run < moviepy_runs:
                    inp = (inputs, root, width, height)
                    results["moviepy"].append(timed(lambda a=inp, d=duration: render_moviepy(*a, d)))
                    results["moviepy-provider"].append(timed(lambda a=inp: render_moviepy_provider(*a)))
                print(f"{size} run {run + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in results.items() if len(v) > run),
                      file=sys.stderr, flush=True)
            frames.unlink(missing_ok=True)
            med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in results.items() if v}
            rows.append((size, duration, med))
    load_after = os.getloadavg()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; median of {args.runs} runs"
          + (f" ({moviepy_runs} for moviepy)" if moviepy_runs and moviepy_runs != args.runs else ""))
    print()
    print("| size | render | wall s | x real time | / floor | moviepy / this | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for size, duration, med in rows:
        floor = med["floor"][0]
        mp = med.get("moviepy", (None, None))[0]
        for name, (wall, cpu) in med.items():
            label = {"floor": "floor (bare encode of the still)", "moviepy": "moviepy CompositeVideoClip",
                     "encoder": "x264 alone on our finished frames (raw, from RAM)",
                     "moviepy-provider": "compose provider moviepy (no ticker)",
                     "before": f"ours, engine {engines[0]}, before issue 16 (veryfast, libass ticker)"}.get(
                name, f"ours, engine {name}" + (" (default)" if name == "warp" else ""))
            peer = name in ("moviepy", "moviepy-provider", "floor", "encoder", "before")
            ratio_mp = f"{mp / wall:.1f}x" if mp and not peer else ""
            print(f"| {size} | {label} | {wall:.1f} | {duration / wall:.1f}x | {wall / floor:.2f} | {ratio_mp} | {cpu:.1f} |")
    for size, _, med in rows:
        if "moviepy-provider" in med:  # the ffmpeg row also draws the ticker: this ratio errs on the low side
            ratio = med["moviepy-provider"][0] / med[engines[0]][0]
            print(f"\n{size}: compose provider moviepy / ffmpeg (engine {engines[0]}): {ratio:.1f}x")


if __name__ == "__main__":
    main()
