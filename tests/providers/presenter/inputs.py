"""A script and a narration with known word times, for presenter tests (no voice is run)."""

from __future__ import annotations

import wave
from pathlib import Path

from pipeline.stages.script import Script
from pipeline.stages.voice import Narration, WordTiming


def narration(
    root: Path,
    sentences: list[str],
    seconds_per_word: float = 0.4,
    speaking: float = 0.8,
    pause: float = 0.6,
    language: str = "en",
) -> tuple[Script, Narration]:
    """Each word speaks for `speaking` of its `seconds_per_word`; sentences are `pause` seconds apart."""
    words, t = [], 0.2
    for s, sentence in enumerate(sentences):
        for word in sentence.split():
            end = round(t + seconds_per_word * speaking, 4)
            words.append(WordTiming(word=word, start=round(t, 4), end=end, sentence=s))
            t += seconds_per_word
        t += pause
    duration = round(t + 0.3, 4)
    path = Path(root) / "narration.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes(spoken_sound(words, duration, 8000))
    script = Script(headline="H", title="T", sentences=sentences, image_prompt="p", language=language)
    return script, Narration(path=path, duration=duration, sample_rate=8000, words=words, voice="test")


def spoken_sound(words: list[WordTiming], duration: float, rate: int) -> bytes:
    """16-bit samples that sound where the words are: a tone swelling to the middle of each word and fading (the
    presenter's jaw follows the loudness), words at a few different levels, silence between them."""
    import numpy as np

    samples = np.zeros(round(duration * rate))
    for k, w in enumerate(words):
        a, b = round(w.start * rate), round(w.end * rate)
        t = np.arange(b - a) / rate
        swell = np.sin(np.pi * np.arange(b - a) / max(1, b - a)) ** 2
        samples[a:b] = (0.15 + 0.12 * (k % 5)) * swell * np.sin(2 * np.pi * 180 * t)
    return (samples * 32767).astype("<i2").tobytes()


def minute(root: Path) -> tuple[Script, Narration]:
    """About 60 s of narration: 150 words in 12 sentences at 2.5 words a second."""
    text = (
        "The city council approved a new budget on Tuesday after months of debate over schools and roads. "
        "Officials said the plan keeps taxes flat while adding money for repairs."
    )
    words = text.split()
    sentences, k = [], 0
    while sum(len(s.split()) for s in sentences) < 150:
        sentences.append(" ".join(words[k % len(words) : k % len(words) + 12] or words[:12]))
        k += 12
    return narration(root, sentences, seconds_per_word=0.36, pause=0.5)
