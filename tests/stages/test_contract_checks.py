"""The stage contracts' output checks (`Stage.check_output`): each rule, the one-line error naming the provider and
the rule, and a broken voice (the test plugin's `shuffled`) failing both the contract suite and a real `make` -
with nothing cached for it and no run folder."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from pipeline import make_video
from pipeline.cache import Cache
from pipeline.errors import NewsreelError
from pipeline.stages import STAGES, Backgrounds, Captions, Narration, Scene, Script, Video, WordTiming
from pipeline.stages.captions import Cue
from pipeline.stages.conformance import (
    check_provider,
    sample_backgrounds,
    sample_captions,
    sample_narration,
    sample_script,
)
from tests.helpers import TEST_PROVIDERS, work_done


def broken(stage: str, artifact, **inputs) -> str:
    """The one-line message check_output raises for `artifact` from a provider named 'p'."""
    with pytest.raises(NewsreelError) as err:
        STAGES[stage].check_output("p", artifact, inputs)
    assert "\n" not in err.value.message
    prefix = f"{stage} provider 'p' broke the {stage} contract: "
    assert err.value.message.startswith(prefix), err.value.message
    return err.value.message.removeprefix(prefix)


@pytest.fixture
def en(tmp_path):
    script = sample_script("en")
    voice = sample_narration(script, tmp_path)
    return script, voice


# --- voice ----------------------------------------------------------------------------------------------------------


def test_a_good_narration_passes(en):
    script, voice = en
    STAGES["voice"].check_output("p", voice, {"script": script})


def test_voice_words_must_be_the_scripts_words_in_order(en):
    script, voice = en
    words = list(voice.words)
    second = words[1].model_copy(update={"word": words[2].word})
    third = words[2].model_copy(update={"word": words[1].word})
    swapped = [words[0], second, third, *words[3:]]
    assert broken("voice", voice.model_copy(update={"words": swapped}), script=script) == (
        "word 2 is 'reached', the script's word 2 is 'rover'"
    )
    assert broken("voice", voice.model_copy(update={"words": words[:-1]}), script=script) == (
        "it timed 12 words, the script has 13 (word 13, 'weeks.', is missing)"
    )
    extra = WordTiming(word="Goodbye.", start=words[-1].end, end=words[-1].end + 0.1, sentence=1)
    assert broken("voice", voice.model_copy(update={"words": [*words, extra]}), script=script) == (
        "it timed 14 words, the script has 13 (word 14, 'Goodbye.', is not in it)"
    )
    moved = [*words[:8], words[8].model_copy(update={"sentence": 0}), *words[9:]]
    assert broken("voice", voice.model_copy(update={"words": moved}), script=script) == (
        "word 9 'Scientists' is marked as in sentence 1, the script has it in sentence 2"
    )
    # Chinese: one word per character, as pipeline.words splits it.
    zh = sample_script("zh")
    split_by_space = [WordTiming(word=s, start=i, end=i + 0.5, sentence=i) for i, s in enumerate(zh.sentences)]
    zh_voice = voice.model_copy(update={"words": split_by_space})
    assert broken("voice", zh_voice, script=zh) == "word 1 is '北京今天宣布了新的环保政策。', the script's word 1 is '北'"


def test_voice_times_run_forward_inside_the_audio(en):
    script, voice = en
    words = list(voice.words)

    def with_word(k: int, **times) -> Narration:
        return voice.model_copy(update={"words": [*words[:k], words[k].model_copy(update=times), *words[k + 1 :]]})

    assert broken("voice", with_word(2, start=0.5, end=0.4), script=script) == (
        "word 3 'reached' ends (0.400 s) before it starts (0.500 s)"
    )
    assert "goes back in time from word 3 'reached'" in broken("voice", with_word(3, start=0.2), script=script)
    assert "lies outside the audio (0-4.100 s)" in broken("voice", with_word(12, end=5.0), script=script)
    assert "lies outside the audio" in broken("voice", with_word(0, start=-0.2), script=script)
    assert "has no real time" in broken("voice", with_word(0, start=float("nan")), script=script)


def test_voice_phonemes_when_given_run_forward_inside_the_audio(en):
    script, voice = en
    said = lambda *phonemes: voice.model_copy(update={"phonemes": list(phonemes)})  # noqa: E731
    STAGES["voice"].check_output("p", said((0.1, 0.2, "m"), (0.2, 0.3, "a")), {"script": script})  # passes
    assert broken("voice", said((0.3, 0.4, "m"), (0.2, 0.3, "a")), script=script) == (
        "phoneme 2 'a' starts at 0.200 s, before phoneme 1 (0.300 s)"
    )
    assert broken("voice", said((0.1, 5.0, "m")), script=script) == (
        "phoneme 1 'm' (0.100-5.000 s) lies outside the audio (0-4.100 s)"
    )
    assert "has no real span" in broken("voice", said((0.3, 0.2, "m")), script=script)
    assert "has no real span" in broken("voice", said((float("nan"), 0.2, "m")), script=script)


def test_the_wav_must_match_the_narration(en, tmp_path):
    script, voice = en
    assert broken("voice", voice.model_copy(update={"duration": 5.0}), script=script) == (
        "its WAV lasts 4.100 s, but duration says 5.000 s"
    )
    assert broken("voice", voice.model_copy(update={"sample_rate": 22050}), script=script) == (
        "its WAV is sampled at 16000 Hz, but sample_rate says 22050"
    )
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0" * 4 * 16000 * 5)
    assert broken("voice", voice.model_copy(update={"path": stereo}), script=script) == (
        "its audio is 2-channel 16-bit; the contract is mono 16-bit"
    )
    mp3 = tmp_path / "narration.mp3"
    mp3.write_bytes(b"ID3\x03\x00not a wav at all")
    assert broken("voice", voice.model_copy(update={"path": mp3}), script=script).startswith(
        "its audio narration.mp3 is not a readable WAV file"
    )
    assert broken("voice", voice.model_copy(update={"path": tmp_path / "gone.wav"}), script=script) == (
        f"its file {tmp_path / 'gone.wav'} does not exist"
    )


# --- the other stages -------------------------------------------------------------------------------------------------


def test_script_rules():
    good = sample_script("en")
    STAGES["script"].check_output("p", good, {"headline": good.headline})
    assert broken("script", good.model_copy(update={"sentences": ["Fine.", "  "]})) == "sentence 2 of 2 is empty"
    assert broken("script", good.model_copy(update={"title": " "})) == "its title is empty"
    backwards = [Scene(sentences=[1], image_prompt="a"), Scene(sentences=[0], image_prompt="b")]
    assert broken("script", good.model_copy(update={"scenes": backwards})).startswith(
        "its scenes list sentences [[1], [0]]; they must take sentences 0-1 in order"
    )


def test_image_rules(tmp_path):
    script = sample_script("en")  # two scenes
    good = sample_backgrounds(script, tmp_path)
    STAGES["image"].check_output("p", good, {"script": script})
    one = Backgrounds(images=good.images[:1])
    assert broken("image", one, script=script) == "it made 1 images for 2 scenes; the contract is one per scene"
    lying = Backgrounds(images=[good.images[0].model_copy(update={"width": 1280, "height": 720}), good.images[1]])
    assert broken("image", lying, script=script) == "image 1 (background-1.png) is 320x180 pixels, but it says 1280x720"
    text = tmp_path / "fake.png"
    text.write_text("a picture, honestly")
    fake = Backgrounds(images=[good.images[0].model_copy(update={"path": text}), good.images[1]])
    assert broken("image", fake, script=script).startswith("image 1 (fake.png) is not a picture file")
    assert "returned Script, not Backgrounds" in broken("image", script, script=script)


def test_captions_rules(en, tmp_path):
    script, voice = en
    good = sample_captions(script, voice, tmp_path)
    STAGES["captions"].check_output("p", good, {"script": script, "voice": voice})

    def with_cues(*cues: Cue) -> Captions:
        return good.model_copy(update={"cues": list(cues)})

    assert broken("captions", with_cues(), script=script, voice=voice) == "it made no cues for a narration of 13 words"
    assert broken("captions", with_cues(Cue(start=1, end=2, text="a"), Cue(start=0.5, end=3, text="b")), script=script,
                  voice=voice) == "cue 2 starts at 0.500 s, before cue 1 (1.000 s)"  # fmt: skip
    assert broken("captions", with_cues(Cue(start=3.9, end=4.5, text="a")), script=script, voice=voice) == (
        "cue 1 (3.900-4.500 s) lies outside the narration (0-4.100 s)"
    )
    assert broken("captions", with_cues(Cue(start=2, end=1, text="a")), script=script, voice=voice) == (
        "cue 1 ends (1.000 s) before it starts (2.000 s)"
    )
    assert broken("captions", with_cues(Cue(start=1, end=2, text=" \n")), script=script, voice=voice) == (
        "cue 1 has no text"
    )


def test_compose_rules(en, tmp_path):
    script, voice = en
    path = tmp_path / "video.mp4"
    path.write_bytes(b"\0\0\0\x18ftypisom")
    good = Video(path=path, duration=voice.duration + 0.6, width=320, height=180, fps=10)
    STAGES["compose"].check_output("p", good, {"voice": voice})
    assert broken("compose", good.model_copy(update={"duration": 2.0}), voice=voice) == (
        "the video (2.00 s) is shorter than its narration (4.10 s)"
    )
    assert broken("compose", good.model_copy(update={"fps": 0}), voice=voice) == (
        "its frame is 320x180 at 0 fps; all three must be positive"
    )
    path.write_bytes(b"")
    assert broken("compose", good, voice=voice) == "its video file video.mp4 is empty"


# --- a broken voice, end to end ------------------------------------------------------------------------------------

EXPECTED = "voice provider 'shuffled' broke the voice contract: word 2 is 'reached', the script's word 2 is 'rover'"


def test_the_contract_suite_fails_a_broken_voice_with_the_rule(test_plugin, tmp_path):
    from pipeline import plugins

    shuffled = plugins.provider_class("voice", "shuffled")()
    with pytest.raises(NewsreelError) as err:
        check_provider(shuffled, tmp_path)
    assert err.value.message == EXPECTED
    assert "newsreel_testplugin.ShuffledVoice" in err.value.hint
    check_provider(plugins.provider_class("voice", "beep")(), tmp_path / "beep")  # its unbroken parent passes


def test_make_with_a_broken_voice_fails_in_one_line_and_caches_nothing_of_it(test_plugin, isolated_config, tmp_path):
    providers = {**TEST_PROVIDERS, "voice": "shuffled"}
    with pytest.raises(NewsreelError) as err:
        make_video("Rover reached the crater", out=tmp_path / "run", providers=providers)
    assert err.value.message == (
        "voice provider 'shuffled' broke the voice contract: word 2 is 'the', the script's word 2 is 'reached'"
    )
    assert work_done(test_plugin) == ["script", "image", "voice"]  # captions and compose never ran on it
    cache = Cache(tmp_path / "cache")
    assert sorted(e.meta["stage"] for e in cache.entries()) == ["image", "script"]  # the voice's work was dropped
    assert not [p for p in (cache.root / "tmp").iterdir() if not p.name.endswith(".lock")]
    assert not (tmp_path / "run").exists()
    # The same through the command line: exit code 2, one line on stderr, no traceback.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    flags = [arg for stage, name in providers.items() for arg in ("--provider", f"{stage}={name}")]
    command = [sys.executable, "-m", "pipeline", "make", "Rover reached the crater", "--out", str(tmp_path / "cli")]
    proc = subprocess.run([*command, *flags], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in proc.stderr and len(errors) == 1
    assert errors[0].startswith(f"error: {err.value.message} (a bug in newsreel_testplugin.ShuffledVoice")
    assert sorted(e.meta["stage"] for e in cache.entries()) == ["image", "script"] and not (tmp_path / "cli").exists()
