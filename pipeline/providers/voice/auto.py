"""Voice provider `auto` (the default): the Piper neural voice when it is installed, else espeak-ng.

It does no work itself. At plan time it asks the `piper` provider whether it can run here (`unavailable()`: the
piper-tts package and a Piper voice model installed, nothing loaded) and hands the stage to `piper` or `espeak`
with a one-line notice saying which and why. The run then records the voice that really ran, so cache keys and
run.json never mention `auto`. piper-tts is GPL-3.0 and therefore an optional extra (`newsreel[piper]`, which
`make demo` installs); espeak-ng comes with every install.
"""

from __future__ import annotations

from typing import Any

from ...provider import Needs
from ...stages.voice import VoiceProvider


class AutoVoice(VoiceProvider):
    name = "auto"
    summary = "the Piper neural voice when piper-tts is installed (the piper extra), otherwise espeak-ng"
    needs = Needs()
    delegates = True
    run_options = frozenset({"language"})  # the run's --lang decides between Piper's English voice and espeak

    @classmethod
    def delegate(cls, params: dict[str, Any], asked: frozenset[str] = frozenset()) -> tuple[str, dict[str, Any], str]:
        """(provider to use, its parameters, a one-line notice)."""
        from ...plugins import provider_class

        piper, espeak = provider_class("voice", "piper"), provider_class("voice", "espeak")
        own_piper = set(piper.Params.model_fields) - set(espeak.Params.model_fields)
        own_espeak = set(espeak.Params.model_fields) - set(piper.Params.model_fields)
        given = set(params)
        if given & own_piper and not given & own_espeak:
            # Piper's own parameters (a voice model, length_scale) mean Piper: its pre-flight then says what is
            # missing rather than a silent switch to another voice.
            return "piper", params, "voice: Piper, because its parameters were given"
        if given & own_espeak:
            return "espeak", params, "voice: espeak-ng, because its parameters were given"
        reason = piper.unavailable()
        if reason is None:
            language = str(params.get("language", "en")).strip().lower().replace("_", "-").split("-")[0]
            speaks = piper().voice_language().lower().split("-")[0]
            if not language or not speaks or language == speaks:
                return "piper", params, "voice: Piper (neural, offline)"
            reason = f"the installed Piper voice speaks {speaks}, not {language}"
        kept = {k: v for k, v in params.items() if k in espeak.Params.model_fields}
        return "espeak", kept, f"voice: espeak-ng, because {reason}"
