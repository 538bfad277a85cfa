"""The runner and cache, driven through a third-party provider package installed by entry point."""

from __future__ import annotations

import json
import pickle

import pytest

from pipeline import make_video
from pipeline.cache import Cache
from pipeline.errors import NewsreelError
from tests.helpers import TEST_PROVIDERS, work_done


def make(tmp_path, name="run", headline="Breakthrough in Mars Project", **kw):
    return make_video(headline, out=tmp_path / name, providers={**TEST_PROVIDERS, **kw.pop("providers", {})}, **kw)


def test_third_party_providers_are_found_and_run(test_plugin, isolated_config, tmp_path):
    result = make(tmp_path)
    assert work_done(test_plugin) == ["script", "image", "voice", "captions", "compose"]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {s: r["provider"] for s, r in record["stages"].items()} == TEST_PROVIDERS
    assert all(r["hit"] is False for r in record["stages"].values())
    # the word budget follows the voice: 60 s at 4 words per second
    assert record["stages"]["script"]["params"] == {"seed": 0, "words": 240}
    assert (tmp_path / "run" / "video.mp4").read_text() == "Breakthrough in Mars Project|beep 50|11"
    script = json.loads((tmp_path / "run" / "script.json").read_text())
    assert script["sentences"][0] == "Breakthrough in Mars Project."
    assert sorted(p.name for p in result.out.iterdir()) == sorted(record["files"])


def test_identical_second_run_does_no_work_into_any_folder(test_plugin, isolated_config, tmp_path):
    make(tmp_path, "first")
    test_plugin.unlink()
    second = make(tmp_path, "second")
    assert work_done(test_plugin) == []
    assert all(r["hit"] for r in second.record["stages"].values())
    assert (tmp_path / "first" / "video.mp4").read_bytes() == (tmp_path / "second" / "video.mp4").read_bytes()


def test_changing_the_voice_reruns_only_voice_captions_compose(test_plugin, isolated_config, tmp_path):
    first = make(tmp_path, "a")
    test_plugin.unlink()
    second = make(tmp_path, "b", params={"voice": {"pitch": 7}})
    assert work_done(test_plugin) == ["voice", "captions", "compose"]
    hits = {s: r["hit"] for s, r in second.record["stages"].items()}
    assert hits == {"script": True, "image": True, "voice": False, "captions": False, "presenter": False, "compose": False}
    assert first.record["stages"]["image"]["key"] == second.record["stages"]["image"]["key"]


def test_seed_changes_keys_of_stages_that_use_it(test_plugin, isolated_config, tmp_path):
    a = make(tmp_path, "a", seed=1).record["stages"]
    b = make(tmp_path, "b", seed=2).record["stages"]
    assert a["script"]["key"] != b["script"]["key"]
    assert a["image"]["key"] != b["image"]["key"]


def test_force_and_no_cache(test_plugin, isolated_config, tmp_path):
    make(tmp_path, "a")
    test_plugin.unlink()
    make(tmp_path, "b", force=["captions"])
    # captions redone with identical output -> same digest -> compose still a hit
    assert work_done(test_plugin) == ["captions"]
    test_plugin.unlink()
    make(tmp_path, "c", no_cache=True)
    assert work_done(test_plugin) == ["script", "image", "voice", "captions", "compose"]


def test_a_failing_stage_leaves_no_cache_entry_and_no_output(test_plugin, isolated_config, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSREEL_TESTPLUGIN_FAIL_COMPOSE", "1")
    with pytest.raises(RuntimeError, match="compose died"):
        make(tmp_path, "dead")
    cache = Cache(isolated_config / "cache")
    assert sorted(e.meta["stage"] for e in cache.entries()) == ["captions", "image", "presenter", "script", "voice"]
    assert list((isolated_config / "cache" / "tmp").iterdir()) == []
    assert not (tmp_path / "dead").exists()  # no empty folder either: run folders appear whole or not at all
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nor a half-assembled one
    monkeypatch.delenv("NEWSREEL_TESTPLUGIN_FAIL_COMPOSE")
    test_plugin.unlink()
    make(tmp_path, "alive")
    assert work_done(test_plugin) == ["compose"]


def test_a_half_built_entry_is_never_trusted(test_plugin, isolated_config, tmp_path):
    """A run killed mid-stage leaves at most a folder under tmp/, which is not a hit."""
    first = make(tmp_path, "a")
    key = first.record["stages"]["compose"]["key"]
    cache = Cache(isolated_config / "cache")
    cache.remove(key)
    (isolated_config / "cache" / "tmp" / f"{key}.deadbeef").mkdir()  # what kill -9 mid-build leaves
    test_plugin.unlink()
    make(tmp_path, "b")
    assert work_done(test_plugin) == ["compose"]


def test_unknown_stage_provider_and_param_are_one_line_errors(test_plugin, isolated_config, tmp_path):
    with pytest.raises(NewsreelError, match="unknown voice provider 'nope'.*beep"):
        make(tmp_path, providers={"voice": "nope"})
    with pytest.raises(NewsreelError, match="unknown stage 'sound'"):
        make(tmp_path, providers={"sound": "x"})
    with pytest.raises(NewsreelError, match="bad parameter volume"):
        make(tmp_path, params={"voice": {"volume": 3}})
    with pytest.raises(NewsreelError, match="bad parameter pitch"):
        make(tmp_path, params={"voice": {"pitch": "high"}})
    assert work_done(test_plugin) == []


@pytest.mark.parametrize(
    "headline, message",
    [("", "empty"), ("   ", "empty"), ("x" * 301, "301 characters"), ("line\nbreak", "control characters"), ("bell\x07", "control")],
)
def test_bad_headlines_are_rejected_before_any_work(test_plugin, isolated_config, tmp_path, headline, message):
    with pytest.raises(NewsreelError, match=message):
        make(tmp_path, headline=headline)
    assert work_done(test_plugin) == []
    assert not (tmp_path / "run").exists()


def test_stage_key_gives_the_keys_the_runner_recorded(test_plugin, isolated_config, tmp_path):
    from pipeline.config import load_settings
    from pipeline.runner import build_plan, headline_digest, stage_key

    record = make(tmp_path, "k").record
    plan = build_plan(load_settings(providers=TEST_PROVIDERS))
    digests = {"headline": headline_digest(record["headline"])}
    for name, rec in record["stages"].items():
        provider = plan.providers[name]
        assert stage_key(name, provider, digests) == rec["key"] == stage_key(name, provider, digests, rec["identity"])
        digests[name] = rec["digest"]
    voice = build_plan(load_settings(providers=TEST_PROVIDERS), {"voice": {"pitch": 7}}).providers["voice"]
    assert stage_key("voice", voice, digests) != record["stages"]["voice"]["key"]
    assert stage_key("voice", plan.providers["voice"], {**digests, "script": "0" * 64}) != record["stages"]["voice"]["key"]


def test_providers_pickle_without_loaded_state(test_plugin, isolated_config):
    from pipeline.config import load_settings
    from pipeline.runner import build_plan

    settings = load_settings(providers=TEST_PROVIDERS, openai_api_key="sk-secret")
    plan = build_plan(settings, {"voice": {"pitch": 9}})
    voice = plan.providers["voice"]
    voice._loaded_model = object()  # what a provider caches after first use
    clone = pickle.loads(pickle.dumps(voice))
    assert clone.params == voice.params and clone.params.pitch == 9
    assert not hasattr(clone, "_loaded_model")


def test_secrets_never_reach_run_json(test_plugin, isolated_config, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-very-secret")
    monkeypatch.setenv("NEWSREEL_OPENAI_API_KEY", "sk-other-secret")
    make(tmp_path, "s")
    text = "".join(p.read_text(errors="ignore") for p in (tmp_path / "s").iterdir())
    text += "".join(p.read_text(errors="ignore") for p in (isolated_config / "cache").rglob("*.json"))
    assert "secret" not in text


def test_operational_params_stay_out_of_the_cache_key(test_plugin, isolated_config):
    from pipeline.plugins import provider_class

    cls = provider_class("script", "openai")
    fast = cls({"timeout": 5, "max_retries": 0})
    slow = cls({"timeout": 500, "max_retries": 9})
    other_model = cls({"model": "another"})
    assert fast.key_params() == slow.key_params() != other_model.key_params()
    assert "timeout" not in fast.key_params() and fast.params.timeout == 5


def test_make_options_are_plain_json_that_round_trips(test_plugin, isolated_config):
    from pipeline.jobs import MakeOptions

    options = MakeOptions.parse({"headline": "  Floods  in   Valencia ", "seed": 4, "providers": TEST_PROVIDERS, "params": {"voice": {"pitch": 3}}})
    assert options.headline == "Floods in Valencia"
    again = MakeOptions.model_validate_json(options.model_dump_json())
    assert again == options
    plan = again.plan()
    assert plan.providers["script"].params.seed == 4 and plan.providers["voice"].params.pitch == 3
    with pytest.raises(NewsreelError, match="unknown option 'colour'"):
        MakeOptions.parse({"headline": "x", "colour": "red"})
    with pytest.raises(NewsreelError, match="bad option aspect"):
        MakeOptions.parse({"headline": "x", "aspect": "4:3"})


def test_the_current_folder_is_never_a_run_folder(test_plugin, isolated_config, tmp_path, monkeypatch):
    # Run folders are renamed into place whole, so `--out .` would mean replacing the folder we stand in.
    from pipeline.errors import NewsreelError
    from pipeline.runner import make_video
    from tests.helpers import TEST_PROVIDERS

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", str(here), "/"):
        with pytest.raises(NewsreelError, match="is the current folder or a root folder"):
            make_video("Hello", out=out, providers=TEST_PROVIDERS)
    assert list(here.iterdir()) == []


def test_the_image_is_made_while_the_voice_is_and_run_json_says_so(test_plugin, isolated_config, tmp_path):
    # The image waits for a file the voice creates when it starts: run one after the other, it would wait in vain.
    gate = tmp_path / "voice-started"
    result = make(tmp_path, params={"image": {"wait_for": str(gate)}, "voice": {"touch": str(gate)}})
    stages = result.record["stages"]
    image, voice = stages["image"], stages["voice"]
    assert image["started"] < voice["started"] + voice["seconds"] and voice["started"] < image["started"] + image["seconds"]
    # the script before both, compose after all of them; the run's wall time covers the last stage
    # (run.json rounds to milliseconds: a sum of two rounded figures may be 1 ms off)
    ends = {s: r["started"] + r["seconds"] for s, r in stages.items()}
    assert ends["script"] <= min(image["started"], voice["started"]) + 0.002
    assert stages["compose"]["started"] >= max(e for s, e in ends.items() if s != "compose") - 0.002
    assert result.record["seconds"] >= ends["compose"] - 0.002
    assert result.record["stage_seconds"] == pytest.approx(sum(r["seconds"] for r in stages.values()), abs=0.01)
    assert list(stages) == ["script", "image", "voice", "captions", "presenter", "compose"]


def test_a_failing_stage_stops_the_one_beside_it_and_neither_is_cached(test_plugin, isolated_config, tmp_path):
    # The image reports progress while it waits for a file that never comes; the voice fails meanwhile.
    never = tmp_path / "never"
    with pytest.raises(NewsreelError) as err:
        make(tmp_path, params={"image": {"wait_for": str(never)}, "voice": {"fail": True}})
    assert err.value.message == "beep voice could not speak"
    assert work_done(test_plugin) == ["script", "image", "voice"]  # captions and compose never started
    cache = Cache(tmp_path / "cache")
    assert [e.meta["stage"] for e in cache.entries()] == ["script"]
    assert not [p for p in (cache.root / "tmp").iterdir() if not p.name.endswith(".lock")]
    assert not (tmp_path / "run").exists()
