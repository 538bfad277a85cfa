"""pipeline.audio: loudness measurement, and the mastered soundtrack with and without music (real ffmpeg)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline import audio
from pipeline.audio import DEFAULT_MUSIC, master_audio, measure_loudness
from pipeline.errors import NewsreelError
from pipeline.media import probe, run_ffmpeg

RATE = 22050


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    data = np.clip(np.round(samples * 32767), -32767, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64) / 32768
    return data.reshape(-1, channels), rate, channels


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllable-rate bursts of harmonic sound with a spiky envelope and pauses: peaks far above the loudness,
    like speech (peak-to-loudness about 17 dB)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None) ** 10
    words = (rng.random(int(seconds * 2) + 1)[(t * 2).astype(int)] > 0.2).astype(float)
    sig = voice * syllables * words
    sig[(t % 6) > 5.3] = 0.0  # a pause every sentence
    return 0.9 * sig / np.abs(sig).max()


@pytest.fixture(scope="module")
def narration(tmp_path_factory) -> Path:
    return write_wav(tmp_path_factory.mktemp("audio") / "narration.wav", speechlike(20.0))


def test_measure_loudness_of_a_known_tone(tmp_path):
    t = np.arange(5 * RATE) / RATE
    tone = write_wav(tmp_path / "tone.wav", 0.1 * np.sin(2 * np.pi * 1000 * t))
    integrated, peak = measure_loudness(tone)
    # A 1 kHz sine of amplitude 0.1 (-20 dBFS peak, -23 dBFS RMS) in mono reads -23.0 LUFS (BS.1770's -0.691 dB
    # offset cancels the K-filter's gain near 1 kHz); its true peak is -20 dBTP.
    assert integrated == pytest.approx(-23.0, abs=0.3)
    assert peak == pytest.approx(-20.0, abs=0.3)


def check_master(result, out: Path, duration: float) -> None:
    assert result.path == out.resolve()
    samples, rate, channels = read_wav(out)
    assert rate == 48000 and channels == 2
    assert len(samples) / rate == pytest.approx(duration, abs=0.01)
    integrated, peak = measure_loudness(out)
    assert integrated == pytest.approx(-16.0, abs=1.0) and peak <= -1.5
    assert (integrated, peak) == (result.integrated, result.true_peak)
    # And after the AAC encode the compose stage does.
    aac = out.with_suffix(".m4a")
    run_ffmpeg(["-y", "-i", out, "-c:a", "aac", "-b:a", "160k", aac], loglevel="error")
    integrated, peak = measure_loudness(aac)
    assert integrated == pytest.approx(-16.0, abs=1.0) and peak <= -1.5, (integrated, peak)


def test_master_without_music(narration, tmp_path):
    before_i, before_tp = measure_loudness(narration)
    assert before_i < -17 and before_tp > -1.5  # quiet with loud peaks: needs gain and a peak limit
    out = tmp_path / "master.wav"
    result = master_audio(narration, out, 22.0)
    check_master(result, out, 22.0)
    assert result.music is None and result.limiter_db > 0
    samples, rate, _ = read_wav(out)
    assert np.abs(samples[int(20.3 * rate) :]).max() < 1e-3  # padded with silence after the narration
    assert result.notes()["loudness_lufs"] == pytest.approx(-16.0, abs=1.0)


@pytest.mark.slow
def test_master_with_the_bundled_music_ducked_under_the_voice(narration, tmp_path):
    out = tmp_path / "master.wav"
    result = master_audio(narration, out, 24.0, music="default", fade_out=1.0)
    check_master(result, out, 24.0)
    assert result.music == DEFAULT_MUSIC.name
    samples, rate, _ = read_wav(out)
    mono = samples.mean(axis=1)

    def rms(a: float, b: float) -> float:
        seg = mono[int(a * rate) : int(b * rate)]
        return float(np.sqrt(np.mean(seg**2)))

    tail = rms(20.6, 22.6)  # music alone after the narration ends (before the fade-out)
    assert tail > 10 ** (-45 / 20)  # audible
    # Ducking: against the same mix without it, the music is quieter while the voice speaks.
    flat = tmp_path / "flat.wav"
    master_audio(narration, flat, 24.0, music="default", fade_out=1.0, duck=False)
    plain = tmp_path / "voice.wav"
    master_audio(narration, plain, 24.0)
    ducked_mix, flat_mix, voice_only = (read_wav(p)[0].mean(axis=1) for p in (out, flat, plain))

    def music_level(mix: np.ndarray, a: float, b: float) -> float:
        # Remove the voice: both masters scale it by nearly the same gain; fit it out by least squares.
        seg, v = mix[int(a * rate) : int(b * rate)], voice_only[int(a * rate) : int(b * rate)]
        gain = float(np.dot(seg, v) / np.dot(v, v))
        return float(np.sqrt(np.mean((seg - gain * v) ** 2)))

    assert music_level(ducked_mix, 2.0, 5.0) < 0.7 * music_level(flat_mix, 2.0, 5.0)
    # Fade-out: the last 100 ms (music alone, fading from 23 s) are much quieter than the music before it.
    assert rms(23.9, 24.0) < 0.25 * tail


def test_music_that_is_not_audio_is_refused(narration, tmp_path):
    text = tmp_path / "song.mp3"
    text.write_text("not really an mp3")
    out = tmp_path / "master.wav"
    with pytest.raises(NewsreelError) as err:
        master_audio(narration, out, 10.0, music=text)
    assert "song.mp3" in err.value.message and "not audio" in err.value.message
    assert not out.exists()
    image = tmp_path / "cover.png"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=red:s=32x32:d=1", "-frames:v", "1", image], loglevel="error")
    with pytest.raises(NewsreelError) as err:
        master_audio(narration, out, 10.0, music=image)
    assert "cover.png" in err.value.message
    with pytest.raises(NewsreelError):
        master_audio(narration, out, 10.0, music=tmp_path / "missing.mp3")
    assert not out.exists() and not list(tmp_path.glob("*.tmp.wav"))


def test_music_longer_than_an_hour_is_refused(narration, tmp_path, monkeypatch):
    assert probe(DEFAULT_MUSIC).duration == pytest.approx(76.8, abs=0.1)
    monkeypatch.setattr(audio, "MAX_MUSIC_SECONDS", 60.0)  # the bundled 77 s track stands in for a 2-hour file
    with pytest.raises(NewsreelError) as err:
        master_audio(narration, tmp_path / "m.wav", 10.0, music="default")
    assert "newsroom-bed.m4a" in err.value.message and "hour" in err.value.message
    assert not (tmp_path / "m.wav").exists()


def test_bundled_track_is_licensed():
    licence = (DEFAULT_MUSIC.parent / "LICENSE-music.txt").read_text()
    assert "CC0" in licence and DEFAULT_MUSIC.name in licence
