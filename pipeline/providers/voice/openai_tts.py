"""Voice provider `openai-tts`: the OpenAI speech API (or any server that speaks its /v1/audio/speech), words
timed by the align step.

Each sentence is one request (`response_format=wav`), so each sentence's span in the narration is known and a
sentence the audio does not say can be named. The answers are decoded with ffmpeg (whatever WAV header a server
sends), trimmed to their sound and joined with `sentence_pause` seconds of silence. The API reports no word times:
`pipeline.align` hears the narration with Whisper tiny.en and matches it to the script.

One-minute fit: a second round of requests at a scaled `speed` when the first misses `target_seconds` by more than
4 % (this asks the voice to speak faster or slower; the audio itself is never time-stretched).

Transient failures (429, 5xx, timeouts, dropped connections) are retried with exponential backoff, as the openai
script provider does; the client's own retries are off. The key comes from the secrets (OPENAI_API_KEY), never
from params, and is kept out of errors.
"""

from __future__ import annotations

import logging
import re
import wave
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from ... import align
from ...errors import NewsreelError
from ...media import FfmpegError, run_ffmpeg
from ...provider import Needs, Params, ProgressFn, operational
from ...stages.script import Script
from ...stages.voice import Narration, VoiceProvider
from .._openai import plain_http_url
from ..script.openai import _server_message, is_local
from .espeak import is_speakable

log = logging.getLogger(__name__)

API_KEY = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key-needed"
RETRY_WAIT = 1.0  # seconds before the first retry; doubles each time (tests shrink it)
RETRY_WAIT_MAX = 30.0
SAMPLE_RATE = 24000  # what OpenAI's voices speak; other servers' audio is resampled to it
# Words per second of OpenAI's voices at speed 1.0 (sentence pauses included). An estimate from published samples
# (about 150-160 words a minute), not measured here: there is no network in tests. The fit pass corrects it.
PACE = 2.6
FIT_TOLERANCE = 0.04
FIT_SPAN = 0.25
EDGE_SECONDS = 0.03
SILENCE_FRACTION = 0.01


class OpenAITTSVoice(VoiceProvider):
    name = "openai-tts"
    version = "1"
    summary = "OpenAI speech API (or a compatible base_url), words timed by Whisper"
    needs = Needs(network=True, api_key=API_KEY, packages=("openai", "faster_whisper"), extra="openai-tts")

    class Params(Params):
        model: str = Field("gpt-4o-mini-tts", min_length=1)
        voice: str = Field("alloy", min_length=1)
        speed: float = Field(1.0, ge=0.25, le=4.0)
        instructions: str | None = None  # how to speak (gpt-4o-mini-tts only), e.g. "a calm news anchor"
        base_url: str | None = None
        language: str = "en"
        sentence_pause: float = Field(0.25, ge=0.0, le=3.0)
        target_seconds: float = Field(60.0, gt=0)
        fit: bool = True
        align_model: str | None = None
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

    @property
    def url(self) -> str:
        return self.params.base_url or DEFAULT_BASE_URL

    def _key(self) -> str | None:
        return self._secrets.get(API_KEY) or None

    def check(self) -> None:
        missing = self.missing_packages()
        if missing:
            raise NewsreelError(
                f"voice provider 'openai-tts' needs {', '.join(missing)}", "pip install 'newsreel[openai-tts]'"
            )
        if not self._key() and not is_local(self.params.base_url):
            raise NewsreelError(
                f"voice provider 'openai-tts' needs an API key for {self.url}",
                f"set the environment variable {API_KEY} (a server on localhost may go without one)",
            )
        align.check_aligner(self.params.align_model, self.params.language)

    def identity(self) -> dict[str, Any]:
        return {"model": self.params.model, "voice": self.params.voice, "base_url": self.url, **align.model_identity(self.params.align_model)}

    def _redact(self, text: str) -> str:
        key = self._key()
        if key:
            text = text.replace(key, "***")
        return re.sub(r"\b(sk-[A-Za-z0-9_\-*]{2})[A-Za-z0-9_\-*]{6,}", r"\1***", text)

    # ---------------------------------------------------------------------------------------------------------------

    def _speak(self, client: Any, sentence: str, speed: float) -> bytes:
        """One sentence -> the audio bytes the server answered, retried on transient errors."""
        import openai
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

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

        def transient(exc: BaseException) -> bool:
            if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
                return True
            return isinstance(exc, openai.APIStatusError) and (exc.status_code >= 500 or exc.status_code in (408, 409))

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception()
            log.warning(
                "%s: %s; retrying in %.1f s (attempt %d of %d)",
                self.url,
                self._describe(exc),
                state.next_action.sleep,
                state.attempt_number + 1,
                p.max_retries + 1,
            )

        def call() -> bytes:
            return client.audio.speech.create(**request).read()

        retrying = Retrying(
            retry=retry_if_exception(transient),
            stop=stop_after_attempt(p.max_retries + 1),
            wait=wait_exponential(multiplier=RETRY_WAIT, max=RETRY_WAIT_MAX),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(call)
        except openai.APIError as exc:
            raise self._error(exc) from None

    def _describe(self, exc: BaseException | None) -> str:
        import openai

        if isinstance(exc, openai.APIStatusError):
            return self._redact(f"HTTP {exc.status_code}: {_server_message(exc)}")
        return self._redact(type(exc).__name__ if exc is not None else "no answer")

    def _error(self, exc: Exception) -> NewsreelError:
        import openai

        p = self.params
        if isinstance(exc, openai.AuthenticationError):
            return NewsreelError(f"the speech API rejected the key (HTTP 401 from {self.url})", f"check {API_KEY}")
        if isinstance(exc, openai.PermissionDeniedError):
            return NewsreelError(f"the speech API refused access to {p.model} (HTTP 403 from {self.url})", "check the key's project and permissions")
        if isinstance(exc, openai.NotFoundError):
            return NewsreelError(
                f"{self.url} has no speech model '{p.model}' (HTTP 404)",
                "check --set voice.model=... and base_url (OpenAI-compatible servers serve under /v1)",
            )
        if isinstance(exc, openai.BadRequestError):
            return NewsreelError(
                f"the speech API refused the request: {self._redact(_server_message(exc))}",
                "check voice, model and speed (--set voice.voice=alloy)",
            )
        if isinstance(exc, openai.RateLimitError):
            return NewsreelError(
                f"the speech API at {self.url} kept answering 429 ({self._redact(_server_message(exc))})",
                "wait and run again, or check the account's quota",
            )
        if isinstance(exc, openai.APITimeoutError):
            return NewsreelError(
                f"the speech API at {self.url} did not answer within {p.timeout:g} s ({p.max_retries + 1} tries)",
                "raise it with --set voice.timeout=SECONDS or check the server",
            )
        if isinstance(exc, openai.APIConnectionError):
            return NewsreelError(
                f"cannot reach the speech API at {self.url}",
                "check base_url and that the server is running" if p.base_url else "check the network connection",
            )
        if isinstance(exc, openai.APIStatusError):
            return NewsreelError(
                f"the speech API at {self.url} failed: HTTP {exc.status_code} {self._redact(_server_message(exc))}",
                "run again later",
            )
        return NewsreelError(f"the speech API at {self.url} failed: {self._redact(type(exc).__name__)}", "run again later")

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
        import numpy as np

        for idx, sentence in enumerate(script.sentences):
            if not is_speakable(sentence):
                raise NewsreelError(
                    f"sentence {idx + 1} has nothing to speak: {sentence!r}",
                    "give every sentence some words (emoji and symbols alone are not read)",
                )
        self.check()
        import openai

        p = self.params
        workdir = Path(workdir)
        client = openai.OpenAI(api_key=self._key() or NO_KEY, base_url=self.url, timeout=p.timeout, max_retries=0)
        speed, passes = p.speed, 1
        audio, spans = self._synthesize(client, script, speed, workdir, progress, (0.0, 0.4 if p.fit else 0.6))
        duration = len(audio) / SAMPLE_RATE
        if p.fit and abs(duration - p.target_seconds) > FIT_TOLERANCE * p.target_seconds:
            fixed = p.sentence_pause * (len(script.sentences) - 1)
            speech, wanted = duration - fixed, p.target_seconds - fixed
            if speech > 0 and wanted > 0:
                lo, hi = max(0.25, speed * (1 - FIT_SPAN)), min(4.0, speed * (1 + FIT_SPAN))
                new_speed = round(min(hi, max(lo, speed * speech / wanted)), 3)
                if new_speed != speed:
                    speed, passes = new_speed, 2
                    audio, spans = self._synthesize(client, script, speed, workdir, progress, (0.4, 0.25))
                    duration = len(audio) / SAMPLE_RATE
        peak = float(np.abs(audio).max())
        samples = np.clip(np.round(audio * (0.89 / peak) * 32767.0), -32767, 32767).astype("<i2")
        path = workdir / "narration.wav"
        with open(path, "wb") as fh, wave.open(fh, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(samples.tobytes())

        def heard(fraction: float, message: str) -> None:
            progress(0.65 + 0.34 * fraction, f"aligning: {message}")

        alignment = align.align_audio(
            path,
            script.sentences,
            duration=duration,
            language=p.language,
            model=p.align_model,
            spans=spans,
            min_score=p.min_alignment,
            progress=heard,
        )
        progress(1.0, f"narration {duration:.1f} s at speed {speed:g}, {alignment.score:.0%} of words heard")
        return Narration(
            path=path.resolve(),
            duration=duration,
            sample_rate=SAMPLE_RATE,
            words=alignment.words,
            voice=f"openai {p.model} {p.voice} @{speed:g}",
            notes={**alignment.notes(), "speed": speed, "passes": passes},
        )
