"""The command line as a user meets it: real subprocesses, exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import TEST_PROVIDERS, work_done

PROVIDER_FLAGS = [arg for stage, name in TEST_PROVIDERS.items() for arg in ("--provider", f"{stage}={name}")]


@pytest.fixture
def cli(test_plugin, isolated_config, tmp_path):
    """Run `python -m pipeline ...` with the test plugin installed and an isolated config and cache."""
    import sys as _sys

    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = os.pathsep.join(p for p in _sys.path if p)
    env["COLUMNS"] = "200"

    def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            capture_output=True,
            text=True,
            env={**env, **(extra_env or {})},
            timeout=60,
        )

    return run


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(("note:", "(use"))]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_make_with_plugin_providers_then_fully_cached(cli, tmp_path, test_plugin):
    first = cli("make", "Breakthrough in Mars Project", "--out", str(tmp_path / "a"), *PROVIDER_FLAGS)
    assert first.returncode == 0, first.stderr
    assert "miss" in first.stdout and "video.mp4" in first.stdout
    test_plugin.unlink()
    second = cli("make", "Breakthrough in Mars Project", "--out", str(tmp_path / "b"), *PROVIDER_FLAGS)
    assert second.returncode == 0, second.stderr
    assert work_done(test_plugin) == []
    record = json.loads((tmp_path / "b" / "run.json").read_text())
    assert [r["hit"] for r in record["stages"].values()] == [True] * 5


@pytest.mark.parametrize(
    "args, needles",
    [
        (["make", ""], ["headline is empty"]),
        (["make", "   "], ["headline is empty"]),
        (["make", "x" * 301], ["301 characters", "limit is 300"]),
        (["make", "two\nlines"], ["control characters"]),
        (["make", "ok", "--provider", "sound=x"], ["unknown stage 'sound'", "stages are: script, image"]),
        (["make", "ok", "--provider", "voice=nope"], ["unknown voice provider 'nope'", "espeak"]),
        (["make", "ok", "--provider", "voice"], ["--provider 'voice' is not of the form"]),
        (["make", "ok", "--set", "voice.volume=3", *PROVIDER_FLAGS], ["bad parameter volume", "pitch"]),
        (["make", "ok", "--aspect", "4:3"], ["bad option aspect", "16:9"]),
        (["make", "ok", "--seed", "-1"], ["bad option seed"]),
        (["make", "ok", "--force", "sound"], ["unknown stage 'sound'"]),
        (["make", "北京宣布新的环保政策", "--lang", "zh"], ["'local' (SmolLM2-135M) writes English only", "--lang zh",
                                                   "--provider script=text --set script.file="]),
        (["make", "ok", "--provider", "script=text", "--set", "script.file=missing.txt"], ["missing.txt does not exist"]),
        (["make", "ok", "--music", "missing.mp3", *PROVIDER_FLAGS[:-2]], ["missing.mp3 does not exist", "audio file"]),
        (["cache", "prune"], ["--older-than"]),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, args, needles, test_plugin):
    assert_clean_error(cli(*args), *needles)
    assert work_done(test_plugin) == []


def test_bad_config_sources(cli, isolated_config, tmp_path):
    assert_clean_error(cli("make", "ok", extra_env={"NEWSREEL_SEED": "abc"}), "bad config value seed")
    (isolated_config / "cwd" / "newsreel.toml").write_text('aspect = "4:3"\n')
    assert_clean_error(cli("config", "show"), "bad config value aspect")
    (isolated_config / "cwd" / "newsreel.toml").write_text("aspect = \n")
    assert_clean_error(cli("config", "show"), "newsreel.toml")
    (isolated_config / "cwd" / "newsreel.toml").write_text('unknown_key = 1\n')
    assert_clean_error(cli("config", "show"), "unknown_key")
    assert_clean_error(cli("config", "show", "--config", str(tmp_path / "missing.toml")), "does not exist")


def test_unwritable_output_folder(cli, tmp_path, test_plugin):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert_clean_error(cli("make", "ok", "--out", str(blocker / "sub"), *PROVIDER_FLAGS), "cannot write to the output folder")
    assert work_done(test_plugin) == []


def test_config_show_masks_secrets_and_reads_toml(cli, isolated_config):
    (isolated_config / "cwd" / "newsreel.toml").write_text('seed = 7\n[providers]\nvoice = "beep"\n[voice]\npitch = 3\n')
    proc = cli("config", "show", extra_env={"NEWSREEL_OPENAI_API_KEY": "sk-hush", "NEWSREEL_ASPECT": "9:16"})
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["seed"] == 7 and shown["aspect"] == "9:16"
    assert shown["providers"]["voice"] == "beep" and shown["voice"] == {"pitch": 3}
    assert shown["openai_api_key"] == "********" and "sk-hush" not in proc.stdout


def test_providers_lists_plugins_with_needs(cli):
    proc = cli("providers")
    assert proc.returncode == 0, proc.stderr
    for name in ("echo", "beep", "listing", "flat", "plain"):
        assert name in proc.stdout


def test_cache_ls_and_prune(cli, tmp_path):
    assert cli("make", "Cache me", "--out", str(tmp_path / "a"), *PROVIDER_FLAGS).returncode == 0
    listing = cli("cache", "ls")
    assert "5 entries" in listing.stdout
    assert cli("cache", "prune", "--stage", "compose").returncode == 0
    assert "4 entries" in cli("cache", "ls").stdout
    assert cli("cache", "prune", "--all").returncode == 0
    assert "0 entries" in cli("cache", "ls").stdout


def test_missing_ffmpeg_or_voice_is_reported_before_any_work(cli, tmp_path, isolated_config):
    # Real default providers: the pre-flight must stop the run before the script model even loads.
    proc = cli("make", "Power cut in the city", "--out", str(tmp_path / "x"), extra_env={"NEWSREEL_FFMPEG": str(tmp_path / "no-ffmpeg")})
    assert_clean_error(proc, "ffmpeg")
    proc = cli("make", "Power cut in the city", "--out", str(tmp_path / "x"), "--set", "voice.voice=nosuchvoice")
    assert_clean_error(proc, "espeak-ng has no voice 'nosuchvoice'")
    assert not list((isolated_config / "cache").glob("entries/*/*"))


def test_doctor_exit_code_reports_problems(cli, tmp_path):
    ok = cli("doctor")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = cli("doctor", extra_env={"NEWSREEL_FFMPEG": str(tmp_path / "no-ffmpeg")})
    assert broken.returncode == 2 and "problem" in broken.stdout
