"""The finished soundtrack: narration, optional background music ducked under it, broadcast loudness.

`master_audio(narration_wav, out_wav, duration, music=...)` writes a 48 kHz stereo WAV that is exactly `duration`
seconds long; the compose stage calls it and muxes the result:

1. the narration, delayed by `offset` (an intro card) and padded with silence (or cut) to `duration`;
2. optional music (a user's file, or the bundled track `assets/music/newsroom-bed.m4a` with `music="default"`),
   looped or cut to `duration`, set `music_gain_db` below the narration's loudness, faded in and out, and ducked
   under the voice by ffmpeg's `sidechaincompress` keyed on the narration;
3. loudness normalised to `target_lufs` (-16 LUFS integrated) with true peaks at most `true_peak` (-1.5 dBTP), in
   two passes: the first measures the mix (ebur128, the BS.1770 meter), the second applies one constant gain - the
   same as `loudnorm`'s second pass with linear=true, and a third of the cost (loudnorm resamples to 192 kHz; a
   60 s mix: 0.3 s to measure with ebur128 against 1.05 s with loudnorm). No dynamic processing of the voice.
   Speech often peaks 20 dB above its loudness, more than -16 LUFS leaves room for under -1.5 dBTP; so when the
   gain would push the peaks over, a look-ahead limiter (`alimiter`) first takes the peaks down by just enough,
   and the measuring pass sees the limited mix. `headroom` dB more is kept under the ceiling for the AAC encoder,
   whose output can peak a little above its input. A last measurement checks the written file; a small
   correcting gain follows if needed.

`measure_loudness(path)` reads integrated loudness and true peak with ffmpeg's `ebur128=peak=true`.

Every ffmpeg call goes through `pipeline.media.run_ffmpeg` with an argument list. A music file that is not audio
or is longer than an hour is a NewsreelError, raised before anything is written.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .assets import ASSETS_DIR
from .errors import NewsreelError
from .media import FfmpegError, ProgressFn, probe, run_ffmpeg

MUSIC_DIR = ASSETS_DIR / "music"
DEFAULT_MUSIC = MUSIC_DIR / "newsroom-bed.m4a"
MAX_MUSIC_SECONDS = 3600.0
SAMPLE_RATE = 48000
LIMIT_MARGIN = 1.0  # dB more than strictly needed that the limiter takes off (true peaks overshoot sample peaks)
TOLERANCE_LU = 0.3  # a measured loudness this close to the target needs no correction


@dataclass(frozen=True)
class Mastered:
    path: Path
    integrated: float  # LUFS, measured on the output with ebur128
    true_peak: float  # dBTP, measured on the output
    limiter_db: float  # how far the limiter's ceiling sat below the mix's peak (0: no limiter)
    music: str | None  # the music file's name, or None

    def notes(self) -> dict:
        return {
            "loudness_lufs": round(self.integrated, 2),
            "true_peak_dbtp": round(self.true_peak, 2),
            "limiter_db": round(self.limiter_db, 2),
            "music": self.music,
        }


def measure_loudness(path: str | os.PathLike) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) of a media file's audio, by ffmpeg's ebur128 filter."""
    lines = run_ffmpeg(
        ["-i", os.fspath(path), "-vn", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        loglevel="info",
    )
    return _ebur128_summary(lines)


def _ebur128_summary(lines: list[str]) -> tuple[float, float]:
    text = "\n".join(lines)
    summary = text[text.rfind("Summary:") :]
    m_i = re.search(r"I:\s+(-?[\d.]+|-inf)\s+LUFS", summary)
    m_tp = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf)\s+dBFS", summary)
    if not m_i or not m_tp:
        raise FfmpegError(0, lines[-15:], [])
    return _number(m_i.group(1)), _number(m_tp.group(1))


def _number(text: str) -> float:
    return -math.inf if text == "-inf" else float(text)


BUNDLED_NAMES = ("default", "bundled")  # what names the bundled track instead of a file


def is_bundled_music(music: str | os.PathLike) -> bool:
    return str(music).strip().lower() in BUNDLED_NAMES


def check_music(music: str | os.PathLike) -> tuple[Path, float]:
    """The music file to use and its duration; a NewsreelError for a missing file, one that is not audio, or one
    longer than an hour. "default" (or "bundled") is the track shipped in assets/music."""
    path = DEFAULT_MUSIC if is_bundled_music(music) else Path(music).expanduser()
    if not path.is_file():
        # Say what it is: a folder, a device or a pipe is not "missing" (and ffprobe would wait forever on a pipe).
        if path.is_dir():
            problem = f"the music {path} is a folder, not an audio file"
        elif path.exists():
            problem = f"the music {path} is a device or a pipe, not an audio file"
        else:
            problem = f"the music file {path} does not exist"
        raise NewsreelError(problem, "pass an audio file (mp3, m4a, wav, ogg, flac)")
    if not os.access(path, os.R_OK):
        raise NewsreelError(f"the music file {path} cannot be read (permission denied)", "check its permissions")
    try:
        info = probe(path)
    except FfmpegError as exc:
        raise NewsreelError(f"the music file {path.name} is not audio ({exc.summary()})", "pass an audio file (mp3, m4a, wav, ogg, flac)") from None
    if info.audio is None:
        raise NewsreelError(f"the music file {path.name} has no audio stream", "pass an audio file (mp3, m4a, wav, ogg, flac)")
    duration = info.duration or 0.0
    if duration <= 0:
        raise NewsreelError(f"the music file {path.name} has no playable length", "pass an audio file (mp3, m4a, wav, ogg, flac)")
    if duration > MAX_MUSIC_SECONDS:
        raise NewsreelError(
            f"the music file {path.name} is {duration / 60:.0f} minutes long; the limit is an hour",
            "cut it to the part you want (a few minutes is plenty: it is looped)",
        )
    return path, duration


def _mix_graph(
    duration: float,
    *,
    offset: float = 0.0,
    music: bool,
    music_gain_db: float,
    fade_in: float,
    fade_out: float,
    duck: bool,
) -> str:
    """The filter graph from the inputs (0: narration, 1: looped music) to [mix]."""
    d = f"{duration:.6f}"
    delay = f"adelay=delays={round(offset * 1000)}:all=1," if offset > 0 else ""
    voice = (
        f"[0:a]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,{delay}"
        f"apad=whole_dur={d},atrim=end={d}"
    )
    if not music:
        return f"{voice},asetpts=N/SR/TB[mix]"
    fade_in = min(fade_in, duration / 3)
    fade_out = min(fade_out, duration / 3)
    bed = (
        f"[1:a]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,atrim=end={d},asetpts=N/SR/TB,"
        f"volume={music_gain_db:.3f}dB,"
        f"afade=t=in:st=0:d={fade_in:.3f},afade=t=out:st={max(0.0, duration - fade_out):.3f}:d={fade_out:.3f}"
    )
    if duck:
        return (
            f"{voice},asetpts=N/SR/TB,asplit=2[v][key];{bed}[bed];"
            "[bed][key]sidechaincompress=threshold=0.02:ratio=6:attack=20:release=400:knee=4[ducked];"
            "[v][ducked]amix=inputs=2:duration=first:normalize=0[mix]"
        )
    return f"{voice},asetpts=N/SR/TB[v];{bed}[bed];[v][bed]amix=inputs=2:duration=first:normalize=0[mix]"


def _inputs(narration: Path, music: Path | None) -> list[str]:
    args = ["-i", os.fspath(narration)]
    if music is not None:
        args += ["-stream_loop", "-1", "-i", os.fspath(music)]
    return args


def master_audio(
    narration_wav: str | os.PathLike,
    out_wav: str | os.PathLike,
    duration: float,
    music: str | os.PathLike | None = None,
    music_gain_db: float = -18.0,
    *,
    offset: float = 0.0,
    duck: bool = True,
    fade_in: float = 1.0,
    fade_out: float = 2.0,
    target_lufs: float = -16.0,
    true_peak: float = -1.5,
    headroom: float = 0.5,
    progress: ProgressFn | None = None,
) -> Mastered:
    """Write the finished soundtrack to `out_wav` (48 kHz stereo 16-bit WAV, `duration` seconds).

    `music`: None for none, "default" for the bundled track, or a path. `music_gain_db`: the music's loudness
    relative to the narration's, before ducking. `offset`: seconds of the soundtrack before the narration starts
    (an intro card; the music plays under it). The output measures `target_lufs` (within about 0.5 LU) and
    peaks at most `true_peak` - `headroom` dBTP (see the module docstring).
    """
    narration, out = Path(narration_wav), Path(out_wav)
    if duration <= 0:
        raise ValueError("duration must be positive")
    if offset < 0:
        raise ValueError("offset must not be negative")
    music_path: Path | None = None
    if music is not None and str(music) != "":
        music_path, _ = check_music(music)
    report = progress or (lambda f, m: None)
    ceiling = true_peak - headroom

    gain = 0.0
    if music_path is not None:  # set the music's level relative to the voice's
        report(0.05, "measuring the narration and the music")
        voice_i, _ = measure_loudness(narration)
        music_i, _ = _measure_graph(
            ["-t", f"{duration:.3f}", "-stream_loop", "-1", "-i", os.fspath(music_path)],
            f"[0:a]atrim=end={duration:.6f}[mix]",
        )
        if math.isfinite(voice_i) and math.isfinite(music_i):
            gain = voice_i + music_gain_db - music_i
        else:
            gain = music_gain_db
    graph = _mix_graph(
        duration, offset=offset, music=music_path is not None, music_gain_db=gain, fade_in=fade_in, fade_out=fade_out, duck=duck
    )
    inputs = _inputs(narration, music_path)

    # Pass 1 measures the mix (integrated loudness and true peak, BS.1770 by ebur128). Normalising is one constant
    # gain to the target - what loudnorm's second pass does with linear=true - unless that gain would push the
    # true peaks over the ceiling: then a look-ahead limiter takes the peaks down first and the limited mix is
    # measured again (limiting lowers the loudness a little and true peaks overshoot the limiter's sample peaks,
    # so this can take another round or two).
    report(0.2, "measuring the mix")
    mix_i, mix_tp = _measure_graph(inputs, graph)
    if not math.isfinite(mix_i) or mix_i < -70:
        raise NewsreelError("the narration is silent: nothing to normalise", "check the voice stage's output")
    limiter_db = 0.0
    chain = graph
    measured_i, measured_tp = mix_i, mix_tp
    for attempt in range(4):
        over = measured_tp + (target_lufs - measured_i) - ceiling
        if over <= 0:
            break
        limiter_db += over + (LIMIT_MARGIN if attempt == 0 else 0.5)
        limit = 10 ** ((mix_tp - limiter_db) / 20)
        chain = graph.replace(
            "[mix]",
            f"[pre];[pre]alimiter=limit={min(1.0, max(0.0625, limit)):.6f}:level_in=1:level_out=1:attack=5:"
            "release=60:asc=1:level=false[mix]",
        )
        report(0.3 + 0.1 * attempt, "measuring loudness")
        measured_i, measured_tp = _measure_graph(inputs, chain)
    # Pass 2 applies the gain.
    report(0.7, "normalising loudness")
    gain = target_lufs - measured_i
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.wav")
    try:
        run_ffmpeg(
            ["-y", *inputs, "-filter_complex", f"{chain};[mix]volume={gain:.4f}dB[out]", "-map", "[out]",
             "-t", f"{duration:.6f}", "-c:a", "pcm_s16le", "-ar", str(SAMPLE_RATE), "-ac", "2", tmp],
            loglevel="error",
        )
        # Check the written file, and correct by a constant gain where it is off (16-bit rounding, resampling).
        report(0.9, "checking loudness")
        integrated, peak = measure_loudness(tmp)
        fix = 0.0
        if peak > ceiling:
            fix = ceiling - 0.05 - peak
        elif abs(integrated - target_lufs) > TOLERANCE_LU:
            fix = min(target_lufs - integrated, ceiling - 0.05 - peak)
        if abs(fix) > 0.01:
            run_ffmpeg(["-y", "-i", tmp, "-af", f"volume={fix:.3f}dB", "-c:a", "pcm_s16le", out], loglevel="error")
            tmp.unlink()
            integrated, peak = measure_loudness(out)
        else:
            os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    report(1.0, f"{integrated:.1f} LUFS, true peak {peak:.1f} dBTP")
    return Mastered(
        path=out.resolve(),
        integrated=integrated,
        true_peak=peak,
        limiter_db=limiter_db,
        music=music_path.name if music_path is not None else None,
    )


def _measure_graph(inputs: list[str], graph: str) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) of a filter graph's [mix] output."""
    lines = run_ffmpeg(
        ["-y", *inputs, "-filter_complex", f"{graph};[mix]ebur128=peak=true:framelog=verbose[out]", "-map", "[out]",
         "-f", "null", "-"],
        loglevel="info",
    )
    return _ebur128_summary(lines)
