"""Contract suites: run a provider the way the runner does, on small standard inputs, and check what it returns
against its stage's contract (`Stage.check_output`, the very check the runner makes after every provider run).

A provider package's whole test file can be:

    from pipeline.stages.conformance import check_provider
    from my_package.voice import MyVoice

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_my_voice_keeps_the_voice_contract(language, tmp_path):
        check_provider(MyVoice({"language": language}), tmp_path, language=language)

`check_provider` also checks what the core expects of every provider object: it pickles with its parameters (batch
workers receive providers that way), and its cache-key parameters, `identity()` and `provenance()` are JSON.

The inputs are made here, without any other provider (a script of two sentences and two scenes, flat PNG
backgrounds, a tone for a narration whose words are evenly spaced, one cue per sentence), so a failure is the
provider's own, and they are small, so a suite takes seconds for a provider that is fast itself.
"""

from __future__ import annotations

import json
import pickle
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..artifacts import Artifact
from ..words import sentence_words
from . import STAGES
from .captions import Captions, Cue
from .image import BackgroundImage, Backgrounds
from .presenter import Presenter
from .script import Scene, Script
from .voice import Narration, WordTiming

# Two short sentences a language, in the languages whose words the stages treat differently: spaced words, one word
# per Chinese or Japanese character, right to left.
SAMPLE_TEXTS: dict[str, tuple[str, list[str]]] = {
    "en": ("Rover reaches crater rim",
           ["The rover reached the crater rim on Tuesday.", "Scientists expect samples within weeks."]),
    "zh": ("北京宣布新的环保政策", ["北京今天宣布了新的环保政策。", "市民表示欢迎。"]),
    "ja": ("東京に新しい駅", ["東京で新しい駅が開業した。", "「便利だ」と話した。"]),
    "ar": ("الحكومة تعلن خطة جديدة",
           ["أعلنت الحكومة اليوم عن خطة جديدة للطاقة.", "وقال الوزير إن المشروع سيبدأ قريبا."]),
}
SECONDS_PER_WORD = 0.3


def sample_script(language: str = "en") -> Script:
    """A two-sentence script in `language` (one of SAMPLE_TEXTS), one scene per sentence."""
    headline, sentences = SAMPLE_TEXTS[language]
    scenes = [Scene(sentences=[i], image_prompt=f"{headline}, scene {i + 1}") for i in range(len(sentences))]
    return Script(headline=headline, title=headline, sentences=sentences, image_prompt=headline, language=language,
                  scenes=scenes)  # fmt: skip


def sample_backgrounds(script: Script, folder: Path, width: int = 320, height: int = 180) -> Backgrounds:
    """One flat PNG per scene of `script`."""
    from PIL import Image

    images = []
    for i, scene in enumerate(script.scenes):
        path = Path(folder) / f"background-{i + 1}.png"
        Image.new("RGB", (width, height), (40 + 60 * i, 90, 120)).save(path)
        images.append(BackgroundImage(path=path.resolve(), width=width, height=height, prompt=scene.image_prompt))
    return Backgrounds(images=images)


def sample_narration(script: Script, folder: Path, rate: int = 16000) -> Narration:
    """A 220 Hz tone (mono 16-bit WAV) as long as the script's words spoken SECONDS_PER_WORD apart."""
    import numpy as np

    words = sentence_words(script.sentences)
    duration = len(words) * SECONDS_PER_WORD + 0.2
    t = np.arange(round(duration * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    path = Path(folder) / "narration.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    timings = [
        WordTiming(word=w, start=0.1 + k * SECONDS_PER_WORD, end=0.1 + (k + 0.8) * SECONDS_PER_WORD, sentence=s)
        for k, (w, s) in enumerate(words)
    ]
    return Narration(path=path.resolve(), duration=len(samples) / rate, sample_rate=rate, words=timings, voice="tone")


def sample_captions(script: Script, narration: Narration, folder: Path) -> Captions:
    """One cue per sentence of `script`, over its words' times in `narration`, written as SRT, WebVTT and ASS."""
    import pysubs2

    from ..words import join_words

    cues = []
    for s in range(len(script.sentences)):
        words = [w for w in narration.words if w.sentence == s]
        if words:
            cues.append(Cue(start=words[0].start, end=words[-1].end, text=join_words([w.word for w in words])))
    subs = pysubs2.SSAFile()
    for cue in cues:
        subs.events.append(pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000), text=cue.text))
    paths = {}
    for ext in ("srt", "vtt", "ass"):
        paths[ext] = (Path(folder) / f"captions.{ext}").resolve()
        subs.save(str(paths[ext]))
    return Captions(cues=cues, **paths)


def sample_inputs(stage: str, folder: Path, language: str = "en") -> dict[str, Any]:
    """The keyword arguments (besides workdir and progress) a `stage` provider's run gets, made in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    script = sample_script(language)
    made: dict[str, Any] = {"headline": script.headline, "script": script}
    needed = set(STAGES[stage].inputs)
    if needed & {"voice", "captions"}:
        made["voice"] = sample_narration(script, folder)
    if "image" in needed:
        made["image"] = sample_backgrounds(script, folder)
    if "captions" in needed:
        made["captions"] = sample_captions(script, made["voice"], folder)
    if "presenter" in needed:  # the standard presenter is none: a compose provider must draw what it always drew
        made["presenter"] = Presenter.nobody(30, made["voice"].duration)
    return {name: made[name] for name in STAGES[stage].inputs}


def run_provider(
    provider: Any, workdir: Path, *, language: str = "en", inputs: Mapping[str, Any] | None = None
) -> Artifact:
    """Pre-flight `provider` and run it as the runner does (in an empty work folder, on the standard inputs of its
    stage in `language`, or on `inputs`); NewsreelError when its output breaks the stage's contract."""
    stage = STAGES[provider.stage]
    workdir = Path(workdir)
    given = dict(inputs) if inputs is not None else sample_inputs(stage.name, workdir / f"inputs-{language}", language)
    out = workdir / f"work-{language}"
    out.mkdir(parents=True)
    fractions: list[float] = []
    provider.check()
    artifact = provider.run(**given, workdir=out, progress=lambda fraction, message="": fractions.append(fraction))
    stage.check_output(provider, artifact, given)
    if not all(0.0 <= f <= 1.0 for f in fractions):
        raise AssertionError(f"{provider.stage} provider '{provider.name}' reported progress outside 0-1: "
                             f"{fractions}")
    return artifact


def check_provider_object(provider: Any) -> None:
    """What the core expects of every provider object: it pickles with its parameters, and its cache-key
    parameters, `identity()` and `provenance()` are JSON (they go into cache keys, run.json and the manifest)."""
    clone = pickle.loads(pickle.dumps(provider))
    if type(clone) is not type(provider) or clone.params != provider.params:
        raise AssertionError(f"{provider.stage} provider '{provider.name}' does not survive pickling with its "
                             "parameters")
    for what, value in (("key_params()", provider.key_params()), ("identity()", provider.identity()),
                        ("provenance()", provider.provenance())):  # fmt: skip
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{provider.stage} provider '{provider.name}': {what} is not JSON ({exc})") from None


def check_provider(provider: Any, workdir: Path, *, language: str = "en") -> Artifact:
    """The whole contract suite for one provider: the provider object (`check_provider_object`), then a run on the
    standard inputs in `language` (a key of SAMPLE_TEXTS; give the provider that language in its parameters too),
    checked against its stage's contract. Returns the output, for the caller's own checks."""
    check_provider_object(provider)
    return run_provider(provider, workdir, language=language)
