"""Words -> IPA phonemes with espeak-ng, in a child process.

libespeak-ng is process-global state, and the espeak voice provider owns it in its process: it reloads the library
before each synthesis so that the same script always gives the same audio, which a second user holding the library
open would defeat. So phonemes come from a short-lived child (`python -m` this module): about 0.1 s for a minute
of narration, whatever voice spoke it.

`espeak_TextToPhonemes` in IPA mode with "_" between phonemes gives e.g. "map" -> "m_ˈa_p", "you" -> "j_uː",
"2024" -> "t_ˈuː θ_ˈaʊ_z_ə_n_d ..." (several spoken words for one written one); diphthongs and affricates stay
one phoneme ("ˈeɪ", "tʃ").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass

IPA = 0x02  # phonememode bit 1: IPA as UTF-8
SEPARATOR = "_"
UTF8 = 1  # espeakCHARS_UTF8
SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: no audio device is opened
TIMEOUT = 60.0

# Languages whose espeak voice is not named by the language code (as the espeak voice provider names them).
VOICES = {"zh": "cmn", "zh-hk": "yue", "zh-yue": "yue", "no": "nb", "iw": "he", "in": "id"}


@dataclass(frozen=True)
class Phonemized:
    voice: str  # the espeak voice that read the words ("en" when the language had none)
    words: list[list[str]]  # per input word, its phonemes (stress and length marks kept)


def phonemize(words: list[str], language: str) -> Phonemized:
    """The IPA phonemes of each word, read by espeak-ng's voice for `language` (English when it has none)."""
    from ...errors import NewsreelError
    from ...media import die_with_parent  # here, not at the top: the child runs this file alone, by path

    unique = sorted(set(words))
    request = json.dumps({"language": language, "words": unique}, ensure_ascii=False)
    try:
        done = subprocess.run(
            # By path, isolated (-I): no PYTHONPATH, no current folder, no module of ours on the path; it needs
            # only the standard library and espeakng_loader.
            [sys.executable, "-I", __file__],
            input=request.encode(),
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
            preexec_fn=die_with_parent,  # a kill -9 of newsreel takes the phonemiser with it, like ffmpeg and piper's
        )
    except subprocess.TimeoutExpired:
        raise NewsreelError(f"espeak-ng took over {TIMEOUT:.0f} s to phonemise the narration", "try again") from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise NewsreelError(
            f"espeak-ng could not phonemise the narration: {last}", "reinstall it: pip install espeakng-loader"
        )
    answer = json.loads(done.stdout)
    found = dict(zip(unique, answer["phonemes"]))
    return Phonemized(voice=answer["voice"], words=[found[w] for w in words])


def speakable(word: str) -> str:
    """The word with symbols and emoji blanked: espeak would read them out by name ("party popper")."""
    return "".join(" " if unicodedata.category(ch)[0] in "SC" else ch for ch in word)


def _main() -> None:
    import ctypes

    import espeakng_loader

    request = json.loads(sys.stdin.buffer.read())
    lib_path = espeakng_loader.get_library_path()
    data = str(espeakng_loader.get_data_path()) if hasattr(espeakng_loader, "get_data_path") else None
    lib = ctypes.CDLL(str(lib_path))
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    if lib.espeak_Initialize(SYNCHRONOUS, 0, data.encode() if data else None, 0) <= 0:
        sys.exit("libespeak-ng did not start")
    language = str(request["language"]).strip().lower().replace("_", "-")
    candidates = [
        language,
        VOICES.get(language, ""),
        language.split("-")[0],
        VOICES.get(language.split("-")[0], ""),
        "en",
    ]
    voice = next(v for v in candidates if v and lib.espeak_SetVoiceByName(v.encode()) == 0)
    mode = IPA | (ord(SEPARATOR) << 8)
    out = []
    for word in request["words"]:
        buf = ctypes.create_string_buffer(speakable(word).encode())
        pointer = ctypes.c_void_p(ctypes.addressof(buf))
        phonemes: list[str] = []
        while pointer.value:  # one clause per call; the pointer moves on (NULL at the end)
            text = lib.espeak_TextToPhonemes(ctypes.byref(pointer), UTF8, mode) or b""
            # "(en)" ... "(cmn)": espeak switched language for a foreign word; the marks are not phonemes.
            for spoken in re.sub(r"\([a-z-]+\)", " ", text.decode(errors="replace")).split():
                phonemes += [p for p in spoken.split(SEPARATOR) if p]
        out.append(phonemes)
    sys.stdout.write(json.dumps({"voice": voice, "phonemes": out}, ensure_ascii=False))


if __name__ == "__main__":
    _main()
