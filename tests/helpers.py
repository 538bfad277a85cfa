"""Small helpers shared by tests (import as `from tests.helpers import ...`)."""

from __future__ import annotations

from pathlib import Path

# The providers of the test plugin package (tests/plugins/newsreel_testplugin.py), one per stage.
TEST_PROVIDERS = {"script": "echo", "image": "flat", "voice": "beep", "captions": "plain", "compose": "listing"}


def work_done(log: Path) -> list[str]:
    """The stages the test plugin's providers actually ran, in order."""
    return log.read_text().split() if log.exists() else []
