"""Voice provider `auto` (the default): Piper when it can run here, espeak-ng otherwise, decided by asking the piper
provider's availability hook (`Provider.unavailable()`), never by the core testing names."""

from __future__ import annotations

import json

import pytest

from pipeline import make_video
from pipeline.config import load_settings
from pipeline.errors import NewsreelError
from pipeline.plugins import provider_class
from pipeline.provider import Needs, Provider
from pipeline.providers.voice.auto import AutoVoice
from pipeline.runner import build_plan
from tests.helpers import TEST_PROVIDERS

PIPER = provider_class("voice", "piper")
MISSING = "piper-tts is not installed (pip install 'newsreel[piper]')"


@pytest.fixture
def no_piper(monkeypatch):
    """This machine as if the piper extra were not installed: the availability hook says so."""
    monkeypatch.setattr(PIPER, "unavailable", classmethod(lambda cls: MISSING))


needs_piper = pytest.mark.skipif(PIPER.unavailable() is not None, reason=f"piper cannot run here: {PIPER.unavailable()}")


def test_auto_is_the_default_voice(isolated_config):
    assert load_settings().providers.voice == "auto"


@needs_piper
def test_piper_when_it_is_installed(isolated_config):
    assert AutoVoice.delegate({}) == ("piper", {}, "voice: Piper (neural, offline)")
    plan = build_plan(load_settings())
    assert plan.providers["voice"].name == "piper"
    assert "voice: Piper (neural, offline)" in plan.notices
    # the script's word budget follows the voice that will speak it
    assert plan.providers["script"].params.words == round(60 * PIPER.words_per_second(plan.providers["voice"].params))


def test_espeak_when_piper_cannot_run_with_the_reason(isolated_config, no_piper):
    name, params, notice = AutoVoice.delegate({"sentence_pause": 0.4, "fit": False})
    assert (name, params) == ("espeak", {"sentence_pause": 0.4, "fit": False})  # parameters both voices take
    assert notice == f"voice: espeak-ng, because {MISSING}"
    plan = build_plan(load_settings())
    assert plan.providers["voice"].name == "espeak" and f"voice: espeak-ng, because {MISSING}" in plan.notices


def test_run_json_records_the_voice_that_ran(isolated_config, test_plugin, tmp_path, no_piper):
    result = make_video("Storm hits the coast", out=tmp_path / "a", providers={**TEST_PROVIDERS, "voice": "auto"})
    record = json.loads((tmp_path / "a" / "run.json").read_text())
    assert record["stages"]["voice"]["provider"] == "espeak" and record["stages"]["voice"]["hit"] is False
    assert "auto" not in json.dumps(record["stages"]["voice"])
    assert result.record["stages"]["voice"]["key"] == record["stages"]["voice"]["key"]


def test_a_voice_s_own_parameters_choose_it(no_piper):
    # espeak's own parameters mean espeak, whatever is installed
    assert AutoVoice.delegate({"voice": "en-gb", "rate": 140})[:2] == ("espeak", {"voice": "en-gb", "rate": 140})
    # Piper's own parameters mean Piper even when it cannot run: its pre-flight then names what is missing,
    # instead of a silent switch to another voice
    name, params, notice = AutoVoice.delegate({"length_scale": 1.2})
    assert (name, params) == ("piper", {"length_scale": 1.2}) and "its parameters were given" in notice


@needs_piper
def test_a_language_the_piper_voice_does_not_speak_goes_to_espeak():
    name, params, notice = AutoVoice.delegate({"language": "de"})
    assert (name, params) == ("espeak", {"language": "de"})
    assert notice == "voice: espeak-ng, because the installed Piper voice speaks en, not de"
    assert AutoVoice.delegate({"language": "en-US"})[0] == "piper"


def test_the_availability_hook_defaults_to_the_packages_needed():
    class Needy(Provider):
        stage, name = "voice", "needy"
        needs = Needs(packages=("surely_not_installed_pkg",), extra="needy")

    class Easy(Provider):
        stage, name = "voice", "easy"

    assert Needy.unavailable() == "surely_not_installed_pkg is not installed (pip install 'newsreel[needy]')"
    assert Easy.unavailable() is None
    with pytest.raises(NewsreelError):
        Needy().check()


@needs_piper
def test_the_run_language_reaches_the_choice(isolated_config):
    plan = build_plan(load_settings(language="de"))
    assert plan.providers["voice"].name == "espeak"
