"""Finding providers: the built-in table, installed third-party entry points, clashes, and the errors users see."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline import plugins
from pipeline.errors import NewsreelError
from pipeline.stages import STAGES

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = Path(__file__).parent / "plugins"


def install(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """A distribution's installed metadata (a dist-info folder) declaring `entry_points` in the providers group."""
    folder = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (folder / "entry_points.txt").write_text(f"[{plugins.GROUP}]\n{lines}")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for fake installed distributions; the provider table is read again around the test."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    plugins._entry_points.cache_clear()
    yield folder
    plugins._entry_points.cache_clear()


def test_builtin_table_is_pyproject_entry_points():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][plugins.GROUP]
    assert declared == plugins.BUILTINS


@pytest.mark.parametrize("entry", sorted(plugins.BUILTINS))
def test_every_builtin_is_the_provider_it_names(entry):
    stage, name = entry.split(".", 1)
    cls = plugins.provider_class(stage, name)
    assert (cls.stage, cls.name) == (stage, name)
    assert issubclass(cls, STAGES[stage].provider_base)
    assert f"{cls.__module__}:{cls.__qualname__}" == plugins.BUILTINS[entry]


def test_builtins_found_whatever_newsreel_metadata_says(site):
    """newsreel's own installed metadata may be stale (installed before a provider was added, or naming one since
    removed): the table decides. A newsreel dist-info first on sys.path shadows the real one."""
    install(site, "newsreel", {"compose.gone": "pipeline.providers.compose.gone:Gone",
                               "compose.ffmpeg": "pipeline.providers.compose.ffmpeg:FfmpegCompose"})
    expected = {tuple(e.split(".", 1)) for e in plugins.BUILTINS}
    found = {(stage, name) for stage, name, _ in plugins.all_providers()}
    assert found == expected
    assert "gone" not in plugins.provider_names("compose")


def test_third_party_adds_a_provider(site):
    install(site, "newsreel-testplugin", {"compose.listing": "newsreel_testplugin:ListingCompose"})
    assert "listing" in plugins.provider_names("compose")
    assert plugins.provider_class("compose", "listing").__module__ == "newsreel_testplugin"
    assert set(plugins.provider_names("compose")) >= {"ffmpeg", "listing"}


def test_third_party_cannot_replace_a_builtin(site):
    install(site, "newsreel-rogue", {"compose.ffmpeg": "newsreel_testplugin:ListingCompose"})
    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    assert plugins.provider_class("compose", "ffmpeg") is FfmpegCompose
    [clash] = plugins.clashes()
    assert (clash.stage, clash.name, clash.package) == ("compose", "ffmpeg", "newsreel-rogue")
    rows = [(name, cls) for stage, name, cls in plugins.all_providers() if stage == "compose" and name == "ffmpeg"]
    assert rows[0][1] is FfmpegCompose
    assert len(rows) == 2 and isinstance(rows[1][1], NewsreelError)
    message = rows[1][1].one_line()
    assert "package 'newsreel-rogue' declares compose.ffmpeg = newsreel_testplugin:ListingCompose" in message
    assert "the built-in one is used" in message and "reinstall" in message


def test_same_target_from_another_package_is_no_clash(site):
    install(site, "newsreel-fork", {"compose.ffmpeg": plugins.BUILTINS["compose.ffmpeg"]})
    assert plugins.clashes() == []


def test_unknown_provider_says_which_exist_and_to_reinstall(site):
    install(site, "newsreel-testplugin", {"voice.beep": "newsreel_testplugin:BeepVoice"})
    with pytest.raises(NewsreelError) as err:
        plugins.provider_class("voice", "x")
    assert str(err.value) == (
        "unknown voice provider 'x' (voice providers are: auto, beep, espeak, openai-tts, piper; "
        "a plugin you just added? reinstall its package: pip install -e .)"
    )


def _python(code: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "NEWSREEL_CACHE_DIR": str(tmp_path / "cache"),
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, *(["-c", code] if code else []), *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def test_only_the_asked_provider_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from pipeline import plugins\n"
        "names = plugins.provider_names('compose') + plugins.provider_names('voice')\n"
        "plugins.provider_class('voice', 'espeak')\n"
        "print(sorted(m for m in sys.modules if m.startswith('pipeline.providers.') and m.count('.') == 3))\n"
    )
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['pipeline.providers.voice.espeak']"


def test_cli_unknown_provider_is_one_line_with_the_reinstall_hint(tmp_path):
    proc = _python("", tmp_path, "-m", "pipeline", "make", "ok", "--provider", "compose=mine")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "unknown compose provider 'mine'" in lines[0] and "ffmpeg" in lines[0]
    assert "reinstall its package: pip install -e ." in lines[0]
