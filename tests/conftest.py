from __future__ import annotations

import sys
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).parent / "plugins"

ENTRY_POINTS = """\
[newsreel.providers]
script.echo = newsreel_testplugin:EchoScript
image.flat = newsreel_testplugin:FlatImage
voice.beep = newsreel_testplugin:BeepVoice
voice.shuffled = newsreel_testplugin:ShuffledVoice
captions.plain = newsreel_testplugin:PlainCaptions
compose.listing = newsreel_testplugin:ListingCompose
"""



@pytest.fixture
def test_plugin(tmp_path, monkeypatch):
    """Install the test provider package through a real entry point; yields the file that logs stage work."""
    from pipeline import plugins

    site = tmp_path / "site"
    dist = site / "newsreel_testplugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-testplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    plugins._entry_points.cache_clear()
    log = tmp_path / "work.log"
    monkeypatch.setenv("NEWSREEL_TESTPLUGIN_LOG", str(log))
    yield log
    plugins._entry_points.cache_clear()


@pytest.fixture
def isolated_config(tmp_path, monkeypatch):
    """No user or project newsreel.toml, no NEWSREEL_* variables leaking in; a private cache."""
    import os

    for name in list(os.environ):
        if name.startswith("NEWSREEL_") and name != "NEWSREEL_TESTPLUGIN_LOG":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))  # the local C2PA signing identity lands here
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("NEWSREEL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="session")
def shared_models_dir(tmp_path_factory) -> Path:
    """One folder of converted models for the whole test session, so the script model is converted only once."""
    return tmp_path_factory.mktemp("models")
