"""compose provider `ffmpeg`: background(s) + narration + captions + news graphics -> one H.264/AAC MP4.

Three motion engines:

- `warp` (default): every frame is one OpenCV affine warp of the background (sub-pixel, bilinear), converted to
  I420 in Python and streamed to ffmpeg's stdin as raw video while ffmpeg encodes the frames before it (see
  `_motion.py`). Smooth at any speed. The graphics that hold still (captions, lower third, ticker band, cards, the
  bug) are drawn by libass once per change and blended in Python (`_layers.py`), and so is the ticker's scrolling
  text (`_scroll.py`: drawn once per 1/8-pixel phase, slid into place each frame); ffmpeg's `ass` filter draws only
  what else moves (fades, slide-ins, cards).
- `zoompan`: ffmpeg's zoompan on a 2x 4:4:4 canvas; no Python per frame, but positions step in half pixels.
- `perspective`: ffmpeg's perspective filter evaluated per frame; smooth, and the slowest.
  Both draw the bug with `overlay` and all the graphics with one `ass` filter, then blend in the provenance mark.

The graphics come from a style's templates (`_graphics.py`, `_styles.py`, templates/styles/), the reveal card
(`reveal=`: pipeline/reveal.py's text, laid out for the frame by `_reveal.py`) among them, over the last seconds. The sound is mastered
while they are prepared (`pipeline/audio.py`): the narration placed after any intro, optional music ducked under
it, loudness normalised to -16 LUFS with true peaks at most -1.5 dBTP; the measured values go to run.json. Encoder:
libx264 (CRF; superfast with the macroblock tree, chosen by benchmarks/encoder.py), or h264_nvenc when an NVIDIA
GPU and an ffmpeg with NVENC are there. Then a poster JPEG and a 320 px
thumbnail. Measured speeds: benchmarks/compose.py.

This file is the provider and its run. The ffmpeg command of each engine is built in `_command.py`; what the
`moviepy` provider shares with it (the timeline, frame sizes, colour tags, poster, cache-key hashes) is in
`timeline.py` and `shared.py`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn, ServerPath, ServerPathOrName, operational
from ...stages.captions import Captions
from ...stages.compose import ComposeProvider, Reveal, Video
from ...stages.image import Backgrounds
from ...stages.presenter import Presenter
from ...stages.script import Script
from ...stages.voice import Narration
from . import _layers, _motion, _presenter, _reveal, _scroll, _shots, _styles
from ._command import AudioTrack, Overlay, filter_command, resolve_encoder, warp_command, write_mark
from ._ass_text import ass_escape, ass_time, fit_title, one_line, text_width  # noqa: F401 - the graphics API, re-exported
from ._graphics import (  # noqa: F401 - re-exported: the graphics API used by tests and other modules
    GraphicsLayout,
    Timing,
    graphics_layout,
    render_graphics,
    write_burn_ass,
)
from ._motion import PRESETS, ZOOM, ease, scene_motions  # noqa: F401
from .shared import (  # noqa: F401 - COMMENT and filter_escape re-exported: tests import them from here
    BUG_OPACITY,
    COMMENT,
    THUMBNAIL_NAME,
    check_frame_size,
    check_graphics_and_music,
    check_inputs_exist,
    content_key_params,
    ffmpeg_version,
    filter_escape,
    remove_files,
    write_poster,
)
from .timeline import Timeline, scene_spans, timeline  # noqa: F401 - scene_spans re-exported: tests import it from here

Engine = Literal["warp", "zoompan", "perspective"]


class FfmpegCompose(ComposeProvider):
    name = "ffmpeg"
    run_options = frozenset({"width", "height", "fps"})
    version = "5"  # 5: callout shots
    summary = "smooth sub-pixel zoom/pan, news graphics (lower third, ticker, bug, label), captions, H.264 in one pass"
    needs = Needs(packages=("imageio_ffmpeg", "pysubs2", "jinja2", "numpy", "PIL"))

    class Params(Params):
        width: int = 1280
        height: int = 720
        fps: int = Field(30, ge=10, le=60)
        crf: int = Field(23, ge=0, le=51)
        preset: Literal[
            "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
        ] = "superfast"
        # x264 options on top of the preset (x264-params syntax, e.g. "subme=2:me=hex"). None: what
        # `_command.TUNED` adds to the preset (superfast: macroblock-tree rate control with a 10-frame lookahead,
        # chosen by benchmarks/encoder.py); "": the preset as x264 ships it.
        x264: str | None = Field(None, max_length=200, pattern=r"^[A-Za-z0-9_.,:=+-]*$")
        encoder: Literal["auto", "libx264", "h264_nvenc"] = "auto"
        engine: Engine = "warp"
        motion: str = "auto"  # auto | a preset | presets separated by commas, cycled over the scenes
        crossfade: float = Field(0.5, ge=0.0, le=3.0)  # seconds
        tail_seconds: float = Field(0.6, ge=0.0, le=10.0)
        style: ServerPathOrName = "news"  # a shipped style's name, or the folder of a copy of one
        label: str = Field("AI-GENERATED", min_length=1, max_length=40)
        breaking: bool = False
        ticker: str | None = Field(None, max_length=500)
        bug: bool = True
        logo: ServerPath | None = None  # a PNG for the bug; None = newsreel's own (assets/logo.png)
        intro: bool = False
        intro_seconds: float = Field(2.5, ge=0.5, le=10.0)
        outro: bool = False
        outro_seconds: float = Field(3.0, ge=0.5, le=10.0)
        music: ServerPathOrName | None = None  # "default" (the bundled bed, assets/music) or an audio file
        music_gain_db: float = Field(-18.0, ge=-40.0, le=0.0)  # the music's loudness relative to the voice's
        duck: bool = True  # lower the music while the voice speaks
        loudness: float = Field(-16.0, ge=-31.0, le=-9.0)  # integrated LUFS of the finished soundtrack
        true_peak: float = Field(-1.5, ge=-9.0, le=0.0)  # dBTP ceiling
        threads: int | None = operational(None, ge=1, le=64)
        # With a presenter: "newscast" cuts at sentences between the anchor, the picture full screen and callout
        # cards of the sentence's figures and names (see `_shots`); "anchor" keeps the anchor on screen throughout,
        # the picture over the shoulder.
        shots: Literal["newscast", "anchor"] = "newscast"

        @field_validator("music")
        @classmethod
        def _music_named(cls, v: str | None) -> str | None:
            if v is None or not v.strip() or v.strip().lower() in ("none", "off"):
                return None
            return v.strip()

        @field_validator("label")
        @classmethod
        def _label_visible(cls, v: str) -> str:
            v = " ".join(v.split())
            if not v:
                raise ValueError("the label must have visible text")
            return v

        @field_validator("motion")
        @classmethod
        def _motion_known(cls, v: str) -> str:
            return ",".join(_motion.parse_motion(v))

        @field_validator("style")
        @classmethod
        def _style_known(cls, v: str) -> str:
            return _styles.check_style_name(v)

        @field_validator("ticker")
        @classmethod
        def _ticker_text(cls, v: str | None) -> str | None:
            if v is None:
                return None
            v = one_line(v)
            return v or None

        @model_validator(mode="after")
        def _frame_size(self):
            check_frame_size(self.width, self.height)
            return self

    @classmethod
    def param_choices(cls) -> dict[str, list[str]]:
        """The shipped styles, for forms (the web page's style menu)."""
        return {"style": _styles.shipped_styles()}

    # ---------------------------------------------------------------------------------------------------------------

    def check(self) -> None:
        super().check()
        from ...media import ffmpeg_exe

        ffmpeg_exe()
        p = self.params
        if p.engine == "warp":
            import importlib.util

            if importlib.util.find_spec("cv2") is None:
                raise NewsreelError(
                    "compose engine 'warp' needs OpenCV",
                    "pip install opencv-python-headless, or --set compose.engine=zoompan",
                )
        check_graphics_and_music(p)
        if p.encoder == "h264_nvenc":
            resolve_encoder("h264_nvenc")

    def identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ffmpeg": ffmpeg_version(), "encoder": resolve_encoder(self.params.encoder)}
        if self.params.engine == "warp":
            try:
                import cv2

                out["opencv"] = cv2.__version__
            except ImportError:
                pass
        return out

    def provenance(self) -> dict[str, Any]:
        """The visible label it draws over every frame: `label` is required and never blank, so it is always on. The
        invisible watermark is reported per run, in the video's notes."""
        return {"visible_label": {"visible": True, "text": self.params.label}}

    def key_params(self) -> dict[str, Any]:
        """The cache key holds the content of the style's templates and of the logo, not their paths: editing a
        user style or logo renders again, and the same files in another folder hit the cache."""
        return {**super().key_params(), **content_key_params(self.params)}

    def run(
        self,
        *,
        script: Script,
        image: Backgrounds,
        voice: Narration,
        captions: Captions,
        presenter: Presenter | None = None,
        reveal: Reveal | None = None,
        workdir: Path,
        progress: ProgressFn,
    ) -> Video:
        from ...audio import master_audio
        from ...media import FfmpegError, run_ffmpeg

        p = self.params
        check_frame_size(p.width, p.height)
        workdir = Path(workdir)
        check_inputs_exist(image, voice)
        encoder = resolve_encoder(p.encoder)
        logo = _styles.load_logo(p.logo) if p.bug else None
        if p.engine == "warp":
            self.check()

        plan = timeline(script, voice, len(image.images), p, _reveal.card_seconds(reveal) if reveal else 0.0)
        drawn = presenter is not None and presenter.kind == "sprites" and p.engine == "warp"
        frame = None
        if drawn:  # standing clear of the lower third (and the BREAKING tag on it), where write_burn_ass puts them
            planned = graphics_layout(p.width, p.height, script.title, p.label, breaking=p.breaking, ticker=p.ticker,
                                      logo_aspect=(logo.width / logo.height) if logo is not None else None,
                                      main=(plan.timing.main_start, plan.timing.main_end))
            top = planned.breaking["y"] if p.breaking else planned.bar["y"]
            frame = _presenter.placement(presenter, p.width, p.height, ceiling=top - 8 * planned.u)
        face = frame.box(_presenter.face_box(presenter)) if frame is not None else None
        graphics = workdir / ".graphics.ass"
        bug_png = workdir / ".bug.png"
        partial = workdir / ".video.partial.mp4"
        final = workdir / "video.mp4"
        poster = workdir / "poster.jpg"
        thumbnail = workdir / THUMBNAIL_NAME
        soundtrack = workdir / ".soundtrack.wav"
        mark, mark_neg = workdir / ".mark-add.yuv", workdir / ".mark-subtract.yuv"
        made = [graphics, bug_png, soundtrack, mark, mark_neg, partial, final, poster, thumbnail]
        # The soundtrack is mastered (pipeline/audio.py: narration after any intro, music ducked under it, -16 LUFS
        # and -1.5 dBTP; ffmpeg processes, about a second for a minute of sound) while the graphics are prepared.
        audio_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsreel-soundtrack")
        try:
            progress(0.0, "mastering the soundtrack, preparing graphics")
            soundtrack_job = audio_pool.submit(
                master_audio, voice.path, soundtrack, plan.duration, music=p.music, music_gain_db=p.music_gain_db,
                offset=plan.timing.main_start, duck=p.duck, target_lufs=p.loudness, true_peak=p.true_peak,
            )
            shots = None
            if drawn:
                first, last = round(plan.timing.main_start * p.fps), round(plan.timing.main_end * p.fps)
                context = " ".join(script.sentences)
                offers = {i: c for i, text in enumerate(script.sentences)
                          if (c := _shots.callout_for(text, i, context)) is not None}
                shots = _shots.Shots(_shots.shot_list(voice, first, last, p.fps, p.shots, offers),
                                     [Path(i.path) for i in image.images], p.width, p.height,
                                     presenter.placement.side, face)
            layout = write_burn_ass(
                captions.ass, graphics, title=script.title, label=p.label, duration=plan.duration,
                width=p.width, height=p.height, style=p.style, breaking=p.breaking, ticker=p.ticker,
                logo_aspect=(logo.width / logo.height) if logo is not None else None, timing=plan.timing,
                keep_clear=face, clear_when=shots.anchor_seconds(p.fps) if shots is not None else None,
                reveal=reveal,
                callouts=shots.callouts(p.fps) if shots is not None else None,
                keep_under=(shots.box[1] + shots.box[3]) if shots is not None else None,
            )
            overlay = None
            if logo is not None:
                _styles.write_logo(logo, layout.bug["w"], layout.bug["h"], BUG_OPACITY, bug_png)
                overlay = Overlay(bug_png, layout.bug["x"], layout.bug["y"])
            audio = AudioTrack(soundtrack)
            images = [Path(i.path) for i in image.images]
            feed = None
            watermark = None
            if p.engine == "warp":
                progress(0.01, "drawing the static graphics")
                layers = split_graphics(graphics, plan, p, workdir)
                if overlay is not None:  # the bug is blended in Python too, under the graphics
                    from PIL import Image

                    with Image.open(overlay.path) as bug:
                        layers.under.append(_layers.sprite(bug, overlay.x, overlay.y))
                    overlay = None
                progress(0.015, "preparing backgrounds")
                # The invisible provenance mark goes into every final frame (after zoom and graphics), so it
                # only has to survive the encode: pipeline/video_watermark.py, 0.1 ms a 720p frame.
                from ... import video_watermark

                marker = video_watermark.Marker(p.width, p.height)
                watermark = video_watermark.METHOD
                anchor = None
                if drawn:
                    progress(0.018, "preparing the presenter")
                    anchor = _presenter.PresenterLayer(presenter, p.width, p.height, p.fps,
                                                       first=round(plan.timing.main_start * p.fps),
                                                       last=round(plan.timing.main_end * p.fps), frame=frame)
                feed = warp_frames(images, plan, p, layers, on_i420=marker.embed_i420, presenter=anchor,
                                   shots=shots)
                mastered = soundtrack_job.result()
                args = warp_command(plan=plan, params=p, encoder=encoder, overlay=overlay, ass_name=graphics.name,
                                    audio=audio, output_name=partial.name, title=script.title)
            else:
                from ... import video_watermark

                write_mark(video_watermark.Marker(p.width, p.height), mark, mark_neg)
                watermark = video_watermark.METHOD
                mastered = soundtrack_job.result()
                args = filter_command(images=images, plan=plan, params=p, encoder=encoder, overlay=overlay,
                                      ass_name=graphics.name, audio=audio, output_name=partial.name,
                                      title=script.title, mark=(mark.name, mark_neg.name))
            run_ffmpeg(
                args,
                progress=lambda f, m: progress(0.02 + 0.95 * f, m),
                total_seconds=plan.duration,
                total_frames=plan.frames,
                cwd=workdir,
                loglevel="error",
                feed=feed,
            )
            os.replace(partial, final)
            progress(0.98, "writing poster and thumbnail")
            write_poster(final, plan, poster, thumbnail)
        except FfmpegError as exc:
            audio_pool.shutdown(wait=True, cancel_futures=True)
            remove_files(made)
            raise NewsreelError(
                f"ffmpeg could not render the video: {exc.summary(4)}",
                "check that the background images and narration are valid files (clear their cache entries to redo them)",
            ) from exc
        except BaseException:
            audio_pool.shutdown(wait=True, cancel_futures=True)
            remove_files(made)
            raise
        audio_pool.shutdown(wait=True)
        remove_files([graphics, bug_png, soundtrack, mark, mark_neg])
        progress(1.0, f"{plan.duration:.1f} s video, {p.width}x{p.height}, {encoder}")
        notes: dict[str, Any] = {"audio": mastered.notes()}
        if watermark:
            notes["watermark"] = watermark
        if reveal is not None:  # what of the card fitted the frame (run.json's reveal.drawn)
            notes["reveal"] = {**_reveal.notes(layout.reveal), "seconds_shown": round(plan.duration - plan.timing.reveal_start, 3)}
        if presenter is not None and presenter.kind != "none":
            notes["presenter"] = presenter_notes(presenter, frame, face, p.engine)
            if frame is not None:  # the still graphics' boxes, frame pixels: none may cover the face box
                notes["presenter"]["graphics"] = graphics_boxes(layout)
            if shots is not None:
                boxes = {k: notes["presenter"][k] for k in ("box", "mouth_box", "face_box")}
                notes["shots"] = shots.notes(p.fps, boxes)
        extra: dict[str, Any] = {"notes": notes}
        if "thumbnail" in Video.model_fields:
            extra["thumbnail"] = thumbnail
        return Video(path=final, duration=plan.duration, width=p.width, height=p.height, fps=p.fps, poster=poster,
                     **extra)


def split_graphics(graphics: Path, plan: Timeline, params: Any, workdir: Path) -> _layers.StaticLayers:
    """Move the static parts of the burned ASS into pre-rendered layers (see `_layers`); `graphics` is rewritten
    with what stays animated."""
    import pysubs2

    subs = pysubs2.load(os.fspath(graphics), encoding="utf-8", format_="ass")
    animated, static, passes = _layers.split_scrolling(subs, plan.fps)
    w, h = params.width, params.height
    if not passes:
        layers = _layers.render_states(subs, static, w, h, workdir)
    else:  # the scrolling text (the ticker's) is drawn once too (`_scroll`), between the layers under and over it
        layer = passes[0].layer
        layers = _layers.render_states(subs, [p for p in static if p.layer <= layer], w, h, workdir)
        over = [p for p in static if p.layer > layer]
        layers.over = _layers.render_states(subs, over, w, h, workdir) if over else None
        layers.scrolls = _scroll.render(subs, passes, w, h, plan.fps, workdir)
    _layers.write_animated(subs, animated, graphics)
    return layers


def presenter_notes(presenter: Presenter, frame: Any, face: list[int] | None, engine: str) -> dict[str, Any]:
    """run.json's facts about the presenter: drawn or why not, and its boxes in frame pixels."""
    if frame is None:
        why = (f"compose engine '{engine}' does not draw presenters; use engine warp" if presenter.kind == "sprites"
               else f"presenter kind '{presenter.kind}' is not drawn yet")
        return {"drawn": False, "why": why}
    return {"drawn": True, "kind": presenter.kind, "look": presenter.look,
            "box": frame.box(presenter.box),
            "mouth_box": frame.box(presenter.mouth_box) if presenter.mouth_box else None,
            "face_box": face, "scale": round(frame.scale, 4)}


def graphics_boxes(layout: GraphicsLayout) -> dict[str, list[int]]:
    """[x, y, w, h] of the label, the lower third's bar and the bug (when on)."""
    out = {"label": [layout.label["box_x"], layout.label["box_y"], layout.label["box_w"], layout.label["box_h"]],
           "lower_third": [layout.bar["x"], layout.bar["y"], layout.bar["w"], layout.bar["h"]]}
    if layout.bug.get("on"):
        out["bug"] = [layout.bug["x"], layout.bug["y"], layout.bug["w"], layout.bug["h"]]
    return {k: [round(v) for v in box] for k, box in out.items()}


def warp_frames(images: list[Path], plan: Timeline, params: Any, layers: Any = None,
                on_i420: Any = None, presenter: Any = None, shots: Any = None) -> _motion.WarpFrames:
    """The warp engine's frame source (on_i420: see `_motion.WarpFrames`)."""
    segs = _motion.segments(plan.spans, plan.motions, plan.fade)
    moving = {s.image for s in segs if s.motion != "none"}
    sources = {i: _motion.prepare(images[i], params.width, params.height, i in moving) for i in {s.image for s in segs}}
    return _motion.WarpFrames(sources, segs, plan.frames, params.width, params.height, params.fps, layers, on_i420,
                              presenter, shots)
