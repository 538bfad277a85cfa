"""Small helpers shared by tests (import as `from tests.helpers import ...`)."""

from __future__ import annotations

from pathlib import Path

# The providers of the test plugin package (tests/plugins/newsreel_testplugin.py), one per stage; the presenter is
# the built-in `none` (it does no work of its own, so the work log does not list it).
TEST_PROVIDERS = {
    "script": "echo",
    "image": "flat",
    "voice": "beep",
    "captions": "plain",
    "presenter": "none",
    "compose": "listing",
}


def work_done(log: Path) -> list[str]:
    """The stages the test plugin's providers actually ran, in order."""
    return log.read_text().split() if log.exists() else []


def sigint_default() -> None:
    """preexec_fn for a child that a test stops with Ctrl-C (SIGINT): give it the default disposition. A process
    started in the background by a non-interactive shell (a CI runner, `cmd &`) inherits SIGINT *ignored*, and
    Python keeps an inherited ignore, so the child would never see the test's Ctrl-C."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
