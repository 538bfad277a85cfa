"""A compose provider that waits, for service tests: it holds a job in `running` until a gate file exists.

`compose.gated` with params {"gate": "/path/to/file"} reports progress every 50 ms while it waits (none with
"quiet": true), so a test can kill
the server mid-job, cancel it, or fill the queue behind it deterministically; once the file exists it writes a small
"video" like the test plugin's `listing` compose. Installed by tests/test_service.py through a real entry point.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.errors import NewsreelError
from pipeline.provider import Params
from pipeline.stages import ComposeProvider, Video


class GatedCompose(ComposeProvider):
    name = "gated"
    run_options = frozenset({"width", "height", "fps"})
    summary = "test: waits for a gate file, then writes a small text 'video'"

    class Params(Params):
        gate: str
        timeout: float = 60.0
        quiet: bool = False  # wait without progress events (a cancel must then escalate to a signal)
        width: int = 1280
        height: int = 720
        fps: int = 30

    def run(self, *, script, image, voice, captions, workdir, progress, presenter=None):
        log = os.environ.get("NEWSREEL_TESTPLUGIN_LOG")
        if log:
            with open(log, "a") as f:
                f.write("compose\n")
        gate = Path(self.params.gate)
        started = time.monotonic()
        while not gate.exists():
            waited = time.monotonic() - started
            if waited > self.params.timeout:
                raise NewsreelError("the gate never opened", "create the gate file")
            if not self.params.quiet:
                progress(min(0.9, waited / self.params.timeout), f"waiting for the gate ({waited:.1f} s)")
            time.sleep(0.05)
        progress(1.0, "gate open")
        path = workdir / "video.mp4"
        path.write_text(f"{script.title}|{voice.voice}|{len(captions.cues)}|gated")
        p = self.params
        return Video(path=path, duration=voice.duration, width=p.width, height=p.height, fps=p.fps)
