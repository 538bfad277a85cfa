"""The one place that runs ffmpeg: finding the binary, running it with progress, and reading media facts.

newsreel uses the static ffmpeg that the imageio-ffmpeg wheel ships (libx264, libass, zoompan, drawtext). That wheel
has no ffprobe, so `probe` parses what `ffmpeg -i FILE` prints about its input. Every call passes an argument list,
never a shell string.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import NewsreelError

FFMPEG_ENV = "NEWSREEL_FFMPEG"
STDERR_TAIL_LINES = 15

ProgressFn = Callable[[float, str], None]


class FfmpegError(RuntimeError):
    """ffmpeg exited with an error. Carries the last lines of its stderr; callers remove partial outputs."""

    def __init__(self, returncode: int, stderr_tail: list[str], args: Sequence[str] = ()) -> None:
        self.returncode = returncode
        self.stderr_tail = list(stderr_tail)
        self.args_list = list(args)
        tail = "\n".join(self.stderr_tail) or "(no error output)"
        super().__init__(f"ffmpeg exited with code {returncode}:\n{tail}")

    def summary(self, lines: int = 3) -> str:
        """The first few meaningful lines of the stderr tail on one line, for a NewsreelError message: ffmpeg's
        first complaints name the cause; the lines after them are threads shutting down."""
        useful: list[str] = []
        for raw in self.stderr_tail:
            tags = _LOG_TAG_RE.findall(raw)
            text = _LOG_TAG_RE.sub("", raw).strip()
            if not text or _BOILERPLATE_RE.search(text):
                continue
            line = f"{tags[-1].split('#')[0].split(':')[-1]}: {text}" if tags else text
            if line not in useful:
                useful.append(line)
        return " | ".join(useful[:lines]) or f"exit code {self.returncode}"


_LOG_TAG_RE = re.compile(r"\[([^\]\[@]+?) @ (?:0x)?[0-9a-fA-F]+\]\s*")
_BOILERPLATE_RE = re.compile(
    r"^(Exiting with|Conversion failed|Task finished with error|Terminating thread with return code|"
    r"Nothing was written into output file|Could not open encoder before EOF|Error while filtering|"
    r"Error number -?\d+ occurred|Decode error rate .* exceeds)"
)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $NEWSREEL_FFMPEG if set, else the one bundled with imageio-ffmpeg."""
    override = os.environ.get(FFMPEG_ENV, "").strip()
    if override:
        if os.path.sep in override:
            found = override if os.path.isfile(override) and os.access(override, os.X_OK) else None
        else:
            found = shutil.which(override)
        if not found:
            raise NewsreelError(
                f"{FFMPEG_ENV} is set to '{override}', which is not an executable ffmpeg",
                f"point {FFMPEG_ENV} at an ffmpeg binary built with libx264 and libass, or unset it",
            )
        return found
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        raise NewsreelError("the imageio-ffmpeg package is not installed", "pip install imageio-ffmpeg") from None
    except RuntimeError as exc:  # no binary for this platform and none on PATH
        raise NewsreelError(
            f"no ffmpeg binary found ({exc})",
            f"pip install --force-reinstall imageio-ffmpeg, or set {FFMPEG_ENV} to an ffmpeg with libx264 and libass",
        ) from None
    if not exe or not Path(exe).exists():
        raise NewsreelError("no ffmpeg binary found", f"pip install imageio-ffmpeg, or set {FFMPEG_ENV}")
    return exe


def _parse_clock(text: str) -> float | None:
    m = re.fullmatch(r"(-?)(\d+):(\d+):(\d+(?:\.\d+)?)", text.strip())
    if not m:
        return None
    sign = -1.0 if m.group(1) else 1.0
    return sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4)))


SYSTEM_FONTCONFIG = Path("/etc/fonts/fonts.conf")


def font_environment() -> dict[str, str]:
    """The environment for ffmpeg runs: FONTCONFIG_FILE names a configuration that adds newsreel's fonts
    (assets/fonts) to the system's (or to the user's own FONTCONFIG_FILE). libass finds our fonts by name through
    `fontsdir` either way, but its fallback for a character a font lacks (Latin digits in a Chinese title) asks
    fontconfig: without this, a machine with no system fonts draws those as boxes."""
    base = os.environ.get("FONTCONFIG_FILE") or (os.fspath(SYSTEM_FONTCONFIG) if SYSTEM_FONTCONFIG.is_file() else "")
    path = _fontconfig_file(base)
    return {**os.environ, "FONTCONFIG_FILE": path} if path else dict(os.environ)


@functools.lru_cache(maxsize=8)
def _fontconfig_file(base: str) -> str | None:
    import hashlib
    import tempfile

    from .assets import FONTS_DIR

    folder = Path(tempfile.gettempdir()) / f"newsreel-fontconfig-{os.getuid() if hasattr(os, 'getuid') else 0}"
    include = f'  <include ignore_missing="yes">{_xml(base)}</include>\n' if base else ""
    conf = (
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n'
        f"{include}  <dir>{_xml(os.fspath(FONTS_DIR))}</dir>\n  <cachedir>{_xml(os.fspath(folder / 'cache'))}</cachedir>\n"
        "</fontconfig>\n"
    )
    path = folder / f"fonts-{hashlib.sha256(conf.encode()).hexdigest()[:16]}.conf"
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != conf:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(conf, encoding="utf-8")
            os.replace(tmp, path)
    except OSError:  # a read-only temp folder: the system's fonts only
        return None
    return os.fspath(path)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_ffmpeg(
    args: Sequence[str | os.PathLike],
    progress: ProgressFn | None = None,
    total_seconds: float | None = None,
    *,
    total_frames: int | None = None,
    cwd: str | os.PathLike | None = None,
    loglevel: str = "warning",
    feed: Iterable[bytes | bytearray | memoryview] | None = None,
) -> list[str]:
    """Run ffmpeg with `args` (everything after the binary, e.g. ["-y", "-i", "in.wav", "out.mp3"]).

    Adds -nostdin -hide_banner -nostats and, when `progress` is given, `-progress pipe:1`, whose key=value blocks are
    turned into progress(fraction, "frame N/M, speed 2.1x, ETA 0:12") calls; the fraction is frames over
    `total_frames` (or the output time over `total_seconds`). Returns the stderr lines. Raises FfmpegError with the
    last lines of stderr when ffmpeg fails; partial outputs are the caller's to remove.

    `feed`: buffers written, in order, to ffmpeg's standard input (for `-i pipe:0`, e.g. raw video frames), from a
    thread of their own, so producing the next buffer overlaps ffmpeg's work on the last one. Iterating `feed` runs
    in that thread; an exception it raises is raised here after ffmpeg is stopped.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", loglevel]
    if feed is None:
        cmd.insert(1, "-nostdin")
    if progress is not None:
        cmd += ["-progress", "pipe:1", "-stats_period", "0.5"]
    cmd += [os.fspath(a) for a in args]

    stderr_lines: collections.deque[str] = collections.deque(maxlen=400)
    proc = subprocess.Popen(
        cmd,
        cwd=os.fspath(cwd) if cwd is not None else None,
        env=font_environment(),
        stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if progress is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        preexec_fn=die_with_parent,
    )

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append(line.rstrip("\r\n"))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    feeder: threading.Thread | None = None
    feed_error: list[BaseException] = []
    stop_feeding = threading.Event()
    if feed is not None:
        feeder = threading.Thread(target=_feed, args=(proc, feed, feed_error, stop_feeding), daemon=True)
        feeder.start()
    started = time.monotonic()
    try:
        if progress is not None:
            assert proc.stdout is not None
            block: dict[str, str] = {}
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if not key:
                    continue
                block[key] = value
                if key == "progress":
                    _report(block, progress, total_seconds, total_frames, time.monotonic() - started)
                    block = {}
        proc.wait()
    finally:
        stop_feeding.set()
        if proc.poll() is None:  # the progress callback raised (e.g. a cancel): stop ffmpeg
            proc.kill()
            proc.wait()
        if feeder is not None:
            feeder.join(timeout=10)
        reader.join(timeout=5)
    if feed_error:
        raise feed_error[0]
    lines = list(stderr_lines)
    if proc.returncode != 0:
        raise FfmpegError(proc.returncode, lines[-STDERR_TAIL_LINES:], cmd)
    return lines


def _prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()  # resolved before any fork: the child may only call it


def die_with_parent() -> None:
    """preexec_fn for long-running children (ffmpeg, helper processes): the kernel sends them SIGKILL when the
    thread that started them dies, so a `kill -9` of newsreel never leaves an encoder running. Callers start the
    child from the thread that waits for it."""
    if _PRCTL is not None:
        _PRCTL(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


PIPE_BYTES = 1 << 20  # ask Linux for a 1 MiB pipe to ffmpeg's stdin (64 KiB by default): fewer switches per frame


def _feed(proc: subprocess.Popen, feed: Iterable, errors: list[BaseException], stop: threading.Event) -> None:
    """Write every buffer of `feed` to ffmpeg's stdin, then close it. Stops quietly when ffmpeg goes away (its own
    error is reported from its exit code); an exception from `feed` itself is kept for the caller and ffmpeg is
    stopped, so it does not wait forever for frames that will not come."""
    assert proc.stdin is not None
    fd = proc.stdin.fileno()
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass
    try:
        for chunk in feed:
            if stop.is_set():
                break
            view = memoryview(chunk).cast("B")
            while view:
                written = os.write(fd, view)
                view = view[written:]
    except (BrokenPipeError, ConnectionResetError):
        pass  # ffmpeg exited (an error it reports itself, or it had all the frames it wanted)
    except OSError as exc:
        if proc.poll() is None:
            errors.append(exc)
            proc.kill()
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
        errors.append(exc)
        proc.kill()
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        close = getattr(feed, "close", None)
        if callable(close):  # a generator: run its cleanup now, in this thread
            with contextlib.suppress(Exception):
                close()


def format_eta(seconds: float) -> str:
    """0:07, 1:05, 1:02:03."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _report(
    block: dict[str, str],
    progress: ProgressFn,
    total_seconds: float | None,
    total_frames: int | None,
    elapsed: float | None = None,
) -> None:
    frame = int(block["frame"]) if block.get("frame", "").isdigit() else None
    out_s: float | None = None
    us = block.get("out_time_us") or block.get("out_time_ms")  # both are microseconds in ffmpeg
    if us and us.lstrip("-").isdigit():
        out_s = max(0.0, int(us) / 1e6)
    elif block.get("out_time"):
        out_s = _parse_clock(block["out_time"])
    fraction = 0.0
    if total_frames and frame is not None:
        fraction = frame / total_frames
    elif total_seconds and out_s is not None:
        fraction = out_s / total_seconds
    done = block.get("progress") == "end"
    if done:
        fraction = 1.0
    fraction = min(1.0, max(0.0, fraction))
    parts = []
    if frame is not None:
        parts.append(f"frame {frame}/{total_frames}" if total_frames else f"frame {frame}")
    elif out_s is not None:
        parts.append(f"{out_s:.1f}/{total_seconds:.1f} s" if total_seconds else f"{out_s:.1f} s")
    speed = block.get("speed", "").strip()
    if speed and speed != "N/A":
        parts.append(f"speed {speed}")
    # ETA from the wall time so far and the fraction done: steadier than ffmpeg's speed, which starts at 0.
    if done:
        parts.append("ETA 0:00")
    elif elapsed is not None and fraction >= 0.02:
        parts.append(f"ETA {format_eta(elapsed * (1.0 - fraction) / fraction)}")
    progress(fraction, ", ".join(parts))


@functools.lru_cache(maxsize=4)
def _encoders(exe: str) -> frozenset[str]:
    try:
        out = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-encoders"],
            check=False, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in out.splitlines():
        m = re.match(r"^\s*[VAS][A-Z.]{5}\s+(\S+)", line)
        if m:
            names.add(m.group(1))
    return frozenset(names)


def encoders() -> frozenset[str]:
    """Names of the encoders the ffmpeg binary was built with (libx264, h264_nvenc, aac, ...)."""
    return _encoders(ffmpeg_exe())


@functools.lru_cache(maxsize=4)
def _nvenc_works(exe: str) -> bool:
    try:
        proc = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=s=256x256:r=30:d=0.2",
             "-c:v", "h264_nvenc", "-f", "null", "-"],
            check=False, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def nvenc_available() -> bool:
    """True when this machine can encode H.264 on an NVIDIA GPU: nvidia-smi is there, the ffmpeg binary has
    h264_nvenc, and a tiny test encode with it succeeds (a driver too old for the binary fails here, not mid-render).
    Checked once per process."""
    if shutil.which("nvidia-smi") is None:
        return False
    exe = ffmpeg_exe()
    return "h264_nvenc" in _encoders(exe) and _nvenc_works(exe)


@dataclass(frozen=True)
class StreamInfo:
    kind: Literal["video", "audio", "subtitle", "data", "attachment"]
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    pix_fmt: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None  # seconds; None for a still image
    streams: list[StreamInfo] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # container metadata: title, comment, encoder, ...
    format: str = ""

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == "audio"), None)


_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}
_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$")


def _split_top(text: str) -> list[str]:
    """Split a stream description at commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def _parse_stream(kind: str, desc: str) -> StreamInfo:
    parts = _split_top(desc)
    codec = parts[0].split()[0] if parts and parts[0] else ""
    info: dict = {"kind": kind.lower(), "codec": codec}
    if kind == "Video":
        if len(parts) > 1:
            info["pix_fmt"] = parts[1].split("(")[0].strip() or None
        for p in parts[1:]:
            m = re.match(r"^(\d{1,5})x(\d{1,5})\b", p)
            if m and "width" not in info:
                info["width"], info["height"] = int(m.group(1)), int(m.group(2))
            m = re.match(r"^(\d+(?:\.\d+)?)(k?) fps$", p)
            if m:
                info["fps"] = float(m.group(1)) * (1000 if m.group(2) else 1)
        if "fps" not in info:
            for p in parts[1:]:
                m = re.match(r"^(\d+(?:\.\d+)?)(k?) tbr$", p)
                if m:
                    info["fps"] = float(m.group(1)) * (1000 if m.group(2) else 1)
    elif kind == "Audio":
        for p in parts[1:]:
            m = re.match(r"^(\d+) Hz$", p)
            if m:
                info["sample_rate"] = int(m.group(1))
            elif p in _CHANNELS:
                info["channels"] = _CHANNELS[p]
            else:
                m = re.match(r"^(\d+) channels", p)
                if m:
                    info["channels"] = int(m.group(1))
                elif "channels" not in info and re.match(r"^\d\.\d(\(side\))?$", p):
                    info["channels"] = _CHANNELS.get(p.split("(")[0])
    return StreamInfo(**info)


def parse_probe_output(text: str) -> MediaInfo:
    """Parse what `ffmpeg -i FILE` prints to stderr about input #0."""
    duration: float | None = None
    streams: list[StreamInfo] = []
    tags: dict[str, str] = {}
    fmt = ""
    section = None  # "format-metadata" while reading the container's Metadata block
    last_key: str | None = None
    for line in text.splitlines():
        if line.startswith("Input #"):
            if streams or fmt:  # only the first input
                break
            m = re.match(r"Input #\d+, (.*?), from ", line)
            fmt = m.group(1) if m else ""
            continue
        if line.startswith("Output #"):
            break
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent == 2 and stripped == "Metadata:":
            section = "format-metadata"
            continue
        if section == "format-metadata":
            if indent >= 4:
                key, sep, value = stripped.partition(":")
                key = key.strip()
                if sep and key:
                    tags[key] = value.strip()
                    last_key = key
                elif sep and not key and last_key:  # continuation of a multi-line value
                    tags[last_key] += "\n" + value.strip()
                continue
            section = None
        m = re.match(r"^\s*Duration: ([^,]+)", line)
        if m:
            duration = _parse_clock(m.group(1))
            continue
        m = _STREAM_RE.match(line)
        if m:
            streams.append(_parse_stream(m.group(1), m.group(2)))
    return MediaInfo(duration=duration, streams=streams, tags=tags, format=fmt)


def probe(path: str | os.PathLike) -> MediaInfo:
    """Duration, streams and container tags of a media file, from `ffmpeg -i` (there is no ffprobe)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    proc = subprocess.run(  # exits 1 ("no output file"): the facts are in stderr
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", os.fspath(path)],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    info = parse_probe_output(proc.stderr)
    if not info.streams:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-STDERR_TAIL_LINES:]
        raise FfmpegError(proc.returncode or 1, tail, [])
    return info


def extract_frame(video: str | os.PathLike, t: float, out_png: str | os.PathLike, *, quality: int = 2) -> Path:
    """Write the frame shown at time `t` seconds to `out_png` (PNG, or JPEG when the name ends in .jpg/.jpeg)."""
    out = Path(out_png)
    args = ["-y", "-ss", f"{max(0.0, t):.3f}", "-i", os.fspath(video), "-frames:v", "1", "-update", "1"]
    if out.suffix.lower() in (".jpg", ".jpeg"):
        args += ["-q:v", str(quality), "-pix_fmt", "yuvj420p"]
    args.append(os.fspath(out))
    run_ffmpeg(args, loglevel="error")
    if not out.exists():
        raise FfmpegError(0, [f"no frame at {t:.3f} s in {video}"], args)
    return out

