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
    """The stages the test plugin's providers actually ran, in order; the stages of one run that have no order
    between them (the runner makes the image while the voice and captions are made) listed in stage order."""
    from pipeline.stages import STAGES

    done = log.read_text().split() if log.exists() else []
    out: list[str] = []
    between: list[str] = []  # stages after a script and before a compose: the ones that may overlap
    for stage in [*done, None]:
        if stage in ("script", "compose", None):
            out += sorted(between, key=list(STAGES).index)
            between = []
            if stage is not None:
                out.append(stage)
        else:
            between.append(stage)
    return out


def sigint_default() -> None:
    """preexec_fn for a child that a test stops with Ctrl-C (SIGINT): give it the default disposition. A process
    started in the background by a non-interactive shell (a CI runner, `cmd &`) inherits SIGINT *ignored*, and
    Python keeps an inherited ignore, so the child would never see the test's Ctrl-C."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
