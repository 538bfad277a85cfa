"""The command line as a user meets it: real subprocesses, exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib

import pytest

from tests.helpers import TEST_PROVIDERS, work_done

PROVIDER_FLAGS = [arg for stage, name in TEST_PROVIDERS.items() for arg in ("--provider", f"{stage}={name}")]
# The test plugin for every stage but the image: the default `auto` image provider decides there.
NOT_IMAGE_FLAGS = [arg for stage, name in TEST_PROVIDERS.items() if stage != "image" for arg in ("-p", f"{stage}={name}")]


@pytest.fixture
def cli(test_plugin, isolated_config, tmp_path):
    """Run `python -m pipeline ...` with the test plugin installed and an isolated config and cache."""
    import sys as _sys

    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = os.pathsep.join(p for p in _sys.path if p)
    env["COLUMNS"] = "200"

    def run(*args: str | bytes, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        # bytes arguments reach the child's argv as they are (undecodable ones become surrogates there)
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


def test_a_stage_failing_beside_another_is_one_line_exit_2_and_caches_nothing_of_either(cli, tmp_path, test_plugin):
    # The voice fails while the image (waiting for a file that never comes) is being made beside it.
    proc = cli("make", "Breakthrough in Mars Project", "--out", str(tmp_path / "a"), *PROVIDER_FLAGS,
               "--set", f"image.wait_for={tmp_path / 'never'}", "--set", "voice.fail=true")
    assert_clean_error(proc, "beep voice could not speak")
    assert work_done(test_plugin) == ["script", "image", "voice"]
    assert not (tmp_path / "a").exists()
    from pipeline.cache import Cache

    cache = Cache(tmp_path / "cache")
    assert [e.meta["stage"] for e in cache.entries()] == ["script"]


def test_make_with_plugin_providers_then_fully_cached(cli, tmp_path, test_plugin):
    first = cli("make", "Breakthrough in Mars Project", "--out", str(tmp_path / "a"), *PROVIDER_FLAGS)
    assert first.returncode == 0, first.stderr
    assert "miss" in first.stdout and "video.mp4" in first.stdout
    test_plugin.unlink()
    second = cli("make", "Breakthrough in Mars Project", "--out", str(tmp_path / "b"), *PROVIDER_FLAGS)
    assert second.returncode == 0, second.stderr
    assert work_done(test_plugin) == []
    record = json.loads((tmp_path / "b" / "run.json").read_text())
    assert [r["hit"] for r in record["stages"].values()] == [True] * 6


@pytest.mark.parametrize(
    "args, needles",
    [
        (["make", ""], ["headline is empty"]),
        (["make", "   "], ["headline is empty"]),
        (["make", "x" * 301], ["301 characters", "limit is 300"]),
        (["make", "two\nlines"], ["control characters", "U+000A"]),
        (["make", "Bank \u202etroper\u202c"], ["bidi control U+202E", "RIGHT-TO-LEFT OVERRIDE", "remove it"]),
        # usage errors raised by typer's vendored click (typer._click), not click's own classes
        (["make", "Hello", "--seed", "abc"], ["--seed: 'abc' is not a valid integer", "see newsreel make --help"]),
        (["make", "Hello", "--fps", "1"], ["newsreel make has no option --fps", "NEWSREEL_FPS", "newsreel.toml"]),
        (["make", "--bogus", "x"], ["newsreel make has no option --bogus", "see newsreel make --help"]),
        # user text that rich would read as markup is shown as typed
        (["make", "ok", "--provider", "voice=[/x]"], ["unknown voice provider '[/x]'"]),
        (["make", "ok", "--set", "voice.[/b]=1", *PROVIDER_FLAGS], ["bad parameter [/b]"]),
        (["make", "ok", "--provider", "sound=x"], ["unknown stage 'sound'", "stages are: script, image"]),
        (["make", "ok", "--provider", "voice=nope"], ["unknown voice provider 'nope'", "espeak"]),
        (["make", "ok", "--provider", "voice"], ["--provider 'voice' is not of the form"]),
        (["make", "ok", "--set", "voice.volume=3", *PROVIDER_FLAGS], ["bad parameter volume", "pitch"]),
        (["make", "ok", "--aspect", "4:3"], ["bad option aspect", "16:9"]),
        (["make", "ok", "--seed", "-1"], ["bad option seed: -1 should be greater than or equal to 0", "4294967295"]),
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


def test_providers_reads_at_80_columns(cli, tmp_path):
    from pipeline.plugins import all_providers

    proc = cli("providers", extra_env={"COLUMNS": "80", "HF_HUB_CACHE": str(tmp_path / "empty-hub")})
    assert proc.returncode == 0, proc.stderr
    assert "note: image: the 'slate' backdrop, because" in proc.stdout  # what the default `auto` picks here
    lines = proc.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    words = proc.stdout.split()
    listed = [(stage, name, cls) for stage, name, cls in all_providers()]
    assert {"echo", "beep", "listing", "flat", "plain"} <= {name for _, name, _ in listed}
    for stage, name, cls in listed:
        # Each provider heads its own line, its name whole (never wrapped or cut), then its version and needs.
        pattern = rf"^({stage})?\s+{re.escape(name)}( \(default\))?  v{cls.version}  "
        heading = [line for line in lines if re.match(pattern, line)]
        assert len(heading) == 1, (name, proc.stdout)
        assert cls.needs.describe().split(",")[0] in heading[0]
        # The summary wraps between words only: its words appear in order, none split.
        summary = cls.summary.split()
        assert any(words[i : i + len(summary)] == summary for i in range(len(words))), (name, cls.summary)


def _png_header(path, width: int, height: int) -> None:
    """A PNG that claims width x height: Image.open reads only this far, so no pixels need to exist."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_init_image_over_the_pixel_limits_is_too_large_not_damaged(cli, tmp_path, test_plugin):
    over_ours = tmp_path / "wide.png"  # 90 Mpx: over newsreel's 50 Mpx, where Pillow only warns
    _png_header(over_ours, 10_000, 9_000)
    proc = cli("make", "ok", "--init-image", str(over_ours), *NOT_IMAGE_FLAGS)
    assert_clean_error(proc, "too large", "10000x9000 pixels (90 megapixels)", "the limit is 50 megapixels")
    assert "DecompressionBomb" not in proc.stderr
    over_pillows = tmp_path / "bomb.png"  # 400 Mpx: past Pillow's own limit, where Image.open refuses
    _png_header(over_pillows, 20_000, 20_000)
    proc = cli("make", "ok", "--init-image", str(over_pillows), *NOT_IMAGE_FLAGS)
    assert_clean_error(proc, "too large: 400 megapixels", "limit is 50")
    assert_clean_error(cli("make", "ok", "--init-image", str(tmp_path), *NOT_IMAGE_FLAGS), "is a folder, not an image")
    assert work_done(test_plugin) == []


def test_music_that_is_a_folder_or_a_pipe_says_what_it_is(cli, tmp_path, test_plugin):
    real_compose = PROVIDER_FLAGS[:-2]
    proc = cli("make", "ok", "--music", str(tmp_path), *real_compose)
    assert_clean_error(proc, f"music {tmp_path} is a folder, not an audio file")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # ffprobe would wait on it forever
    proc = cli("make", "ok", "--music", str(fifo), *real_compose)
    assert_clean_error(proc, "is a device or a pipe, not an audio file")
    assert work_done(test_plugin) == []


def test_undecodable_argv_bytes_are_refused_in_one_line(cli, tmp_path, test_plugin):
    # Python decodes argv with surrogateescape: b"\xe9" arrives as the lone surrogate U+DCE9.
    assert_clean_error(cli("make", b"Caf\xe9 opens", *PROVIDER_FLAGS), "lone surrogate U+DCE9", "UTF-8")
    assert_clean_error(cli("make", "ok", "--provider", b"voice=b\xe9ep"), "option providers.voice is not valid Unicode")
    assert work_done(test_plugin) == []


def test_out_path_with_brackets_and_undecodable_bytes_prints_as_it_is(cli, tmp_path):
    # A legal folder name: rich must not eat [a-z], and printing the undecodable byte must not crash.
    out = os.fsencode(tmp_path) + b"/[a-z] caf\xe9"
    proc = cli("make", "Breakthrough in Mars Project", "--out", out, *PROVIDER_FLAGS)
    assert proc.returncode == 0, proc.stderr
    assert "[a-z] caf\\udce9/video.mp4" in proc.stdout  # escaped, not a UnicodeEncodeError
    record = json.loads((tmp_path / os.fsdecode(b"[a-z] caf\xe9") / "run.json").read_bytes())
    assert record["headline"] == "Breakthrough in Mars Project"


def test_auto_image_notice_only_when_the_image_is_built(cli, tmp_path, test_plugin):
    # The default image provider `auto` falls back to the slate backdrop here (an empty model cache) and says why.
    hub = {"HF_HUB_CACHE": str(tmp_path / "empty-hub")}
    first = cli("make", "Notice me", "--out", str(tmp_path / "a"), *NOT_IMAGE_FLAGS, extra_env=hub)
    assert first.returncode == 0, first.stderr
    notes = [line for line in first.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "note: image: the 'slate' backdrop, because" in notes[0]
    again = cli("make", "Notice me", "--out", str(tmp_path / "b"), *NOT_IMAGE_FLAGS, extra_env=hub)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "b" / "run.json").read_text())["stages"]["image"]["hit"] is True
    assert "note:" not in again.stderr  # the image came from the cache: nothing was chosen on this run
    # `doctor` and `providers` always say it: test_doctor_exit_code_reports_problems, test_providers_reads_at_80_columns


def test_doctor_shows_bracketed_paths_literally(cli, tmp_path):
    proc = cli("doctor", "--config", str(tmp_path / "missing[a-z].toml"))
    assert proc.returncode == 2
    assert "missing[a-z].toml does not exist" in proc.stdout


def test_cache_ls_and_prune(cli, tmp_path):
    assert cli("make", "Cache me", "--out", str(tmp_path / "a"), *PROVIDER_FLAGS).returncode == 0
    listing = cli("cache", "ls")
    assert "6 entries" in listing.stdout  # one per stage, the presenter (none) too
    assert cli("cache", "prune", "--stage", "compose").returncode == 0
    assert "5 entries" in cli("cache", "ls").stdout
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
    ok = cli("doctor", extra_env={"HF_HUB_CACHE": str(tmp_path / "empty-hub")})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "'slate' backdrop, because" in ok.stdout  # the default image provider's choice, always said here
    broken = cli("doctor", extra_env={"NEWSREEL_FFMPEG": str(tmp_path / "no-ffmpeg")})
    assert broken.returncode == 2 and "problem" in broken.stdout
