"""A third-party provider package, as an outside author would write one: tiny, fast providers for every stage.

Tests install it through a real `newsreel.providers` entry point (a dist-info folder on sys.path), which exercises
plugin discovery and lets runner and cache tests count exactly which stages did work.
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

from pipeline.errors import NewsreelError
from pipeline.provider import Params
from pipeline.stages import (
    BackgroundImage,
    Backgrounds,
    Captions,
    CaptionsProvider,
    ComposeProvider,
    ImageProvider,
    Narration,
    Script,
    ScriptProvider,
    Video,
    VoiceProvider,
    WordTiming,
)
from pipeline.stages.captions import Cue
from pipeline.words import sentence_words


def _count(stage: str) -> None:
    log = os.environ.get("NEWSREEL_TESTPLUGIN_LOG")
    if log:
        with open(log, "a") as f:
            f.write(stage + "\n")


class EchoScript(ScriptProvider):
    name = "echo"
    run_options = frozenset({"seed", "words"})
    summary = "test: the headline, three times"

    class Params(Params):
        seed: int = 0
        words: int = 30

    def run(self, *, headline, workdir, progress):
        _count("script")
        if headline == "explode":
            raise RuntimeError("boom inside a provider")
        sentences = [f"{headline}.", f"Seed {self.params.seed} says hello.", "That is all."]
        return Script(headline=headline, title=headline, sentences=sentences, image_prompt=headline, words_target=self.params.words)


class FlatImage(ImageProvider):
    name = "flat"
    run_options = frozenset({"seed", "width", "height"})
    summary = "test: a flat PNG per scene"

    class Params(Params):
        width: int = 1280
        height: int = 720
        seed: int = 0
        wait_for: str = ""  # a file: report progress until it exists (10 s at most), then draw

    def run(self, *, script, workdir, progress):
        import time

        from PIL import Image

        _count("image")
        if self.params.wait_for:
            waited = time.monotonic()
            while not os.path.exists(self.params.wait_for):
                if time.monotonic() - waited > 10:
                    raise NewsreelError("flat image: the file it waits for never came", self.params.wait_for)
                progress(0.5, "waiting")
                time.sleep(0.01)
        images = []
        for k, scene in enumerate(script.scenes):
            path = workdir / ("bg.png" if k == 0 else f"bg-{k + 1}.png")
            Image.new("RGB", (32, 18), (self.params.seed % 256, 80, 120)).save(path)
            images.append(BackgroundImage(path=path, width=32, height=18, prompt=scene.image_prompt))
        return Backgrounds(images=images)


class BeepVoice(VoiceProvider):
    name = "beep"
    summary = "test: silence with evenly spaced words"

    class Params(Params):
        pitch: int = 50
        seconds_per_word: float = 0.25
        touch: str = ""  # a file to create when the voice starts (see the flat image's wait_for)
        fail: bool = False  # fail, as a provider does on a bad voice

    @classmethod
    def words_per_second(cls, params):
        return 1 / params.seconds_per_word

    def run(self, *, script, workdir, progress):
        _count("voice")
        if self.params.touch:
            Path(self.params.touch).touch()
        if self.params.fail:
            (workdir / "voice.wav").write_bytes(b"half a file")
            raise NewsreelError("beep voice could not speak", "set voice.fail=false")
        step = self.params.seconds_per_word
        words = [
            WordTiming(word=w, start=i * step, end=i * step + step * 0.8, sentence=s)
            for i, (w, s) in enumerate(sentence_words(script.sentences))
        ]
        duration = len(words) * step
        path = workdir / "voice.wav"
        with wave.open(str(path), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(8000)
            f.writeframes(struct.pack("<h", self.params.pitch) * int(duration * 8000))
        return Narration(path=path, duration=duration, sample_rate=8000, words=words, voice=f"beep {self.params.pitch}")


class ShuffledVoice(BeepVoice):
    """A broken voice, for the voice contract's tests: it times the script's second and third words swapped."""

    name = "shuffled"
    summary = "test: a voice that breaks its contract (words out of order)"

    def run(self, *, script, workdir, progress):
        narration = super().run(script=script, workdir=workdir, progress=progress)
        words = list(narration.words)
        if len(words) >= 3:
            a, b = words[1], words[2]
            words[1], words[2] = a.model_copy(update={"word": b.word}), b.model_copy(update={"word": a.word})
        return narration.model_copy(update={"words": words})


class PlainCaptions(CaptionsProvider):
    name = "plain"
    summary = "test: one cue per word"

    def run(self, *, script, voice, workdir, progress):
        _count("captions")
        cues = [Cue(start=w.start, end=w.end, text=w.word) for w in voice.words]
        paths = {}
        for ext in ("srt", "vtt", "ass"):
            paths[ext] = workdir / f"c.{ext}"
            paths[ext].write_text("\n".join(c.text for c in cues))
        return Captions(cues=cues, **paths)


class ListingCompose(ComposeProvider):
    name = "listing"
    run_options = frozenset({"width", "height", "fps"})
    summary = "test: a text file naming its inputs"

    class Params(Params):
        width: int = 1280
        height: int = 720
        fps: int = 30

    def run(self, *, script, image, voice, captions, workdir, progress, presenter=None):
        _count("compose")
        progress(0.5, "halfway")
        if os.environ.get("NEWSREEL_TESTPLUGIN_FAIL_COMPOSE"):
            (workdir / "partial.mp4").write_bytes(b"half")
            raise RuntimeError("compose died")
        path = workdir / "video.mp4"
        path.write_text(f"{script.title}|{voice.voice}|{len(captions.cues)}")
        p = self.params
        return Video(path=path, duration=voice.duration, width=p.width, height=p.height, fps=p.fps)
