"""`newsreel batch`'s command-line progress (pipeline/cli_batch.py): plain per-item lines when stderr is a log or a
pipe, the rich display's markup safety. The subprocess test uses the test plugin providers and the gated compose
(tests/plugins/newsreel_slowplugin.py) through real entry points."""

from __future__ import annotations

import io
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

from pipeline.batch import BatchEvent
from pipeline.cli_batch import PlainProgress, RichProgress
from pipeline.runner import Event
from tests.helpers import TEST_PROVIDERS

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = Path(__file__).parent / "plugins"
ENTRY_POINTS = "[newsreel.providers]\n" + "".join(
    f"{stage}.{name} = newsreel_testplugin:{cls}\n"
    for stage, name, cls in [
        ("script", "echo", "EchoScript"),
        ("image", "flat", "FlatImage"),
        ("voice", "beep", "BeepVoice"),
        ("captions", "plain", "PlainCaptions"),
        ("compose", "listing", "ListingCompose"),
    ]
) + "compose.gated = newsreel_slowplugin:GatedCompose\n"


def _env(root: Path) -> dict[str, str]:
    site = root / "site"
    dist = site / "newsreel_testplugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-testplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSREEL_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site), str(PLUGIN_DIR), str(REPO)]),
        NEWSREEL_CACHE_DIR=str(root / "cache"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_CACHE_HOME=str(root / "xdg-cache"),
        XDG_DATA_HOME=str(root / "data"),
        COLUMNS="200",  # the summary table on stdout: wide enough not to fold the error
    )
    env.update({f"NEWSREEL_PROVIDERS__{stage.upper()}": name for stage, name in TEST_PROVIDERS.items()})
    return env


def test_a_log_gets_one_line_per_item_as_each_finishes(tmp_path):
    """stderr is a pipe: each finished item is a plain line there at once, while later items are still running."""
    gate = tmp_path / "gate"
    batch = tmp_path / "b.csv"
    batch.write_text(
        "headline,name,providers.compose,compose.gate\n"
        "First Quick Story,first,,\n"
        "explode,,,\n"  # the test script provider raises on this headline
        f"Third Story Waits,third,gated,{gate}\n"
    )
    out = tmp_path / "out"
    (tmp_path / "cwd").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "batch", str(batch), "--out", str(out), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path / "cwd", env=_env(tmp_path),
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()

    def next_item_line() -> str:
        seen = []
        while True:
            line = lines.get(timeout=60)
            assert line is not None, f"stderr ended before an item line: {seen}"
            if line.startswith("["):
                return line
            seen.append(line)

    try:
        first = next_item_line()
        assert re.fullmatch(rf"\[1/3\] ok  First Quick Story -> {re.escape(str(out))}/first \(\d+\.\d s\)", first)
        second = next_item_line()
        assert second == "[2/3] failed  explode (line 3): RuntimeError: boom inside a provider"
        # Both lines arrived while the third item is still held at its compose stage: per item, not at the end.
        assert proc.poll() is None and not (out / "batch.json").exists()
        gate.touch()
        third = next_item_line()
        assert re.fullmatch(rf"\[3/3\] ok  Third Story Waits -> {re.escape(str(out))}/third \(\d+\.\d s\)", third)
        assert proc.wait(timeout=60) == 1  # one item failed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the summary table still comes at the end, on stdout
    table = proc.stdout.read()
    assert "newsreel batch:" in table and "boom inside a provider" in table
    assert (out / "third" / "video.mp4").read_text().endswith("|gated")


def _done(line: int, name: str, status: str, **kw) -> BatchEvent:
    return BatchEvent(kind="item-done", line=line, name=name, status=status, **kw)


def test_plain_lines_name_each_outcome_on_one_printable_line():
    written: list[str] = []
    progress = PlainProgress(written.append, 0, Path("out"))
    hostile = "Storm\u202e txt.exe \x1b[2J [bold]Hits[/bold]"
    events = [
        BatchEvent(kind="batch-start", total=5),
        BatchEvent(kind="item-start", line=2, name="storm", headline=hostile),
        _done(2, "storm", "ok", seconds=12.34, cached=2),
        BatchEvent(kind="item-start", line=3, name="calm", headline="Calm Seas"),
        _done(3, "calm", "skipped", seconds=0.01),
        BatchEvent(kind="item-start", line=4, name="bad", headline="Bad News"),
        _done(4, "bad", "failed", seconds=1.0, error="ValueError: first\nsecond"),
        BatchEvent(kind="item-start", line=5, name="cut", headline="Cut Short"),
        _done(5, "cut", "interrupted", error="interrupted"),
        _done(6, "never", "pending"),  # never started: named by its folder
    ]
    for event in events:
        progress.on_event(event)
    assert written == [
        "[1/5] ok  Storm\\u202e txt.exe \\x1b[2J [bold]Hits[/bold] -> out/storm (12.3 s, 2/6 stages cached)",
        "[2/5] skipped  Calm Seas -> out/calm (already made)",
        "[3/5] failed  Bad News (line 4): ValueError: first second",
        "[4/5] interrupted  Cut Short (line 5)",
        "[5/5] pending  never (line 6)",
    ]


def test_rich_progress_shows_brackets_in_stage_messages_as_text():
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    with RichProgress(console, 1) as progress:
        progress.on_event(BatchEvent(kind="item-start", line=1, name="a", headline="A"))
        message = "[/] step [1/3] [bold]"  # unescaped, "[/]" alone makes rich raise MarkupError
        stage = Event(stage="image", kind="progress", fraction=0.5, message=message)
        progress.on_event(BatchEvent(kind="stage", line=1, name="a", event=stage))
        progress.progress.refresh()
        progress.on_event(_done(1, "a", "failed", error="bad [red]thing[/]"))
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())  # the terminal's colour and cursor codes
    assert "image: [/] step [1/3] [bold]" in shown and "failed line 1 a: bad [red]thing[/]" in shown
