"""Voice provider `openai-tts`: the OpenAI speech API (or any server that speaks its /v1/audio/speech), words
timed by the align step.

Each sentence is one request (`response_format=wav`), so each sentence's span in the narration is known and a
sentence the audio does not say can be named. The answers are decoded with ffmpeg (whatever WAV header a server
sends), trimmed to their sound and joined with `sentence_pause` seconds of silence. The API reports no word times:
`pipeline.align` hears the narration with Whisper tiny.en and matches it to the script.

One-minute fit: a second round of requests at a scaled `speed` when the first misses `target_seconds` by more than
4 % (this asks the voice to speak faster or slower; the audio itself is never time-stretched).

Transient failures (429, 5xx, timeouts, dropped connections) are retried with exponential backoff by the code it
shares with the openai script provider (`pipeline.providers._openai`); the client's own retries are off. The key comes from the secrets (OPENAI_API_KEY), never
from params, and is kept out of errors.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from ... import align
from ...errors import NewsreelError
from ...media import FfmpegError, run_ffmpeg
from ...provider import Needs, Params, ProgressFn, ServerPath, operational
from ...stages.script import Script
from ...stages.voice import Narration, VoiceProvider
from .._openai import API_KEY, OpenAICompatible, plain_http_url
from ._aligned import Fit, write_and_align
from .espeak import check_speakable

SAMPLE_RATE = 24000  # what OpenAI's voices speak; other servers' audio is resampled to it
# Words per second of OpenAI's voices at speed 1.0 (sentence pauses included). An estimate from published samples
# (about 150-160 words a minute), not measured here: there is no network in tests. The fit pass corrects it.
PACE = 2.6
FIT = Fit(tolerance=0.04, span=0.25, bounds=(0.25, 4.0), digits=3, slower_is_larger=False)  # speed: faster is larger
EDGE_SECONDS = 0.03
SILENCE_FRACTION = 0.01


class OpenAITTSVoice(OpenAICompatible, VoiceProvider):
    name = "openai-tts"
    run_options = frozenset({"language", "target_seconds"})
    version = "1"
    summary = "OpenAI speech API (or a compatible base_url), words timed by Whisper"
    needs = Needs(network=True, api_key=API_KEY, packages=("openai", "faster_whisper"), extra="openai-tts")
    service = "speech API"
    model_noun = "speech model"
    model_option = "--set voice.model=..."
    status_hint = "run again later"
    bad_request_hint = "check voice, model and speed (--set voice.voice=alloy)"

    class Params(Params):
        model: str = Field("gpt-4o-mini-tts", min_length=1)
        voice: str = Field("alloy", min_length=1)
        speed: float = Field(1.0, ge=0.25, le=4.0)
        instructions: str | None = None  # how to speak (gpt-4o-mini-tts only), e.g. "a calm news anchor"
        base_url: ServerPath | None = None  # where the server sends its API key
        language: str = "en"
        sentence_pause: float = Field(0.25, ge=0.0, le=3.0)
        target_seconds: float = Field(60.0, gt=0)
        fit: bool = True
        align_model: ServerPath | None = None
        min_alignment: float = Field(align.MIN_SCORE, ge=0.0, le=1.0)
        timeout: float = operational(60.0, gt=0, le=3600)
        max_retries: int = operational(4, ge=0, le=20)

        @field_validator("base_url")
        @classmethod
        def _plain_http_url(cls, value: str | None) -> str | None:
            return plain_http_url(value, "http://localhost:8000/v1")

    @classmethod
    def words_per_second(cls, params) -> float:
        speed = params.get("speed", 1.0) if isinstance(params, dict) else params.speed
        return PACE * speed

    def check(self) -> None:
        missing = self.missing_packages()
        if missing:
            raise NewsreelError(
                f"voice provider 'openai-tts' needs {', '.join(missing)}", "pip install 'newsreel[openai-tts]'"
            )
        self.check_key()
        align.check_aligner(self.params.align_model, self.params.language)

    def identity(self) -> dict[str, Any]:
        return {"model": self.params.model, "voice": self.params.voice, "base_url": self.url, **align.model_identity(self.params.align_model)}

    # ---------------------------------------------------------------------------------------------------------------

    def _speak(self, client: Any, sentence: str, speed: float) -> bytes:
        """One sentence -> the audio bytes the server answered, retried on transient errors."""
        import openai

        p = self.params
        request: dict[str, Any] = {
            "model": p.model,
            "voice": p.voice,
            "input": sentence,
            "response_format": "wav",
            "speed": speed,
        }
        if p.instructions:
            request["instructions"] = p.instructions

        def call() -> bytes:
            return client.audio.speech.create(**request).read()

        try:
            return self.with_retries(call)
        except openai.APIError as exc:
            raise self._error(exc) from None

    def _decode(self, data: bytes, workdir: Path, idx: int):
        """Audio bytes in any format ffmpeg reads -> mono float32 samples at SAMPLE_RATE."""
        import numpy as np

        raw, pcm = workdir / f".sentence{idx}.audio", workdir / f".sentence{idx}.wav"
        raw.write_bytes(data)
        try:
            run_ffmpeg(["-y", "-i", raw, "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", pcm], loglevel="error")
            with wave.open(str(pcm), "rb") as wav:
                samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        except (FfmpegError, wave.Error, EOFError) as exc:
            detail = exc.summary() if isinstance(exc, FfmpegError) else str(exc)
            raise NewsreelError(
                f"the speech API answered sentence {idx + 1} with audio that cannot be read ({detail})",
                "check base_url points at an OpenAI-compatible speech server",
            ) from None
        finally:
            raw.unlink(missing_ok=True)
            pcm.unlink(missing_ok=True)
        return samples

    def _synthesize(self, client: Any, script: Script, speed: float, workdir: Path, progress: ProgressFn, share):
        import numpy as np

        p = self.params
        pause = np.zeros(round(p.sentence_pause * SAMPLE_RATE), dtype=np.float32)
        edge = int(EDGE_SECONDS * SAMPLE_RATE)
        pieces, spans, offset = [], [], 0
        for idx, sentence in enumerate(script.sentences):
            audio = self._decode(self._speak(client, " ".join(sentence.split()), speed), workdir, idx)
            peak = float(np.abs(audio).max()) if audio.size else 0.0
            loud = np.flatnonzero(np.abs(audio) > max(1e-4, SILENCE_FRACTION * peak)) if peak > 0 else np.zeros(0)
            if not loud.size:
                raise NewsreelError(
                    f"the speech API returned silence for sentence {idx + 1}: {sentence!r}", "rewrite it in words"
                )
            audio = audio[max(0, int(loud[0]) - edge) : min(len(audio), int(loud[-1]) + 1 + edge)]
            if idx:
                pieces.append(pause)
                offset += len(pause)
            spans.append((offset / SAMPLE_RATE, (offset + len(audio)) / SAMPLE_RATE))
            pieces.append(audio)
            offset += len(audio)
            lo, width = share
            progress(lo + width * (idx + 1) / len(script.sentences), f"spoke sentence {idx + 1}/{len(script.sentences)}")
        return np.concatenate(pieces), spans

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Narration:
        check_speakable(script.sentences, "to speak")
        self.check()
        p = self.params
        workdir = Path(workdir)
        client = self.client()
        speed, passes = p.speed, 1
        audio, spans = self._synthesize(client, script, speed, workdir, progress, (0.0, 0.4 if p.fit else 0.6))
        duration = len(audio) / SAMPLE_RATE
        new_speed = FIT.second_pass(speed, duration, len(script.sentences), p)
        if new_speed is not None:
            speed, passes = new_speed, 2
            audio, spans = self._synthesize(client, script, speed, workdir, progress, (0.4, 0.25))
            duration = len(audio) / SAMPLE_RATE
        path, alignment = write_and_align(audio, SAMPLE_RATE, spans, script.sentences, p, workdir, progress)
        progress(1.0, f"narration {duration:.1f} s at speed {speed:g}, {alignment.score:.0%} of words heard")
        return Narration(
            path=path.resolve(),
            duration=duration,
            sample_rate=SAMPLE_RATE,
            words=alignment.words,
            voice=f"openai {p.model} {p.voice} @{speed:g}",
            notes={**alignment.notes(), "speed": speed, "passes": passes},
        )
