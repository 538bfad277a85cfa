"""`newsreel batch` on the command line: progress while the batch runs, then a summary table.

Progress goes to stderr in one of three forms, chosen once:
- `--json-progress`: every `BatchEvent` as one JSON object a line on stdout (for programs);
- stderr is a terminal: rich's live display, an overall bar plus a line per running item;
- stderr is a log or a pipe: one plain line per item as it finishes, flushed at once (rich's live display would
  show nothing there until the end).
The batch package itself imports no rich: it only hands `BatchEvent`s to the sink chosen here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .batch import (
    BatchEvent,
    BatchFileError,
    BatchSummary,
    default_batch_out,
    plain_text,
    run_batch,
    validate,
)
from .stages import STAGES


def cli_batch(
    file: Path,
    *,
    out: Path | None,
    engine: str,
    workers: int | None,
    gpu_slots: int,
    address: str | None,
    json_progress: bool,
    config: Path | None,
    defaults: dict[str, Any] | None = None,
) -> int:
    """Run a batch for the command line; returns the exit code (0 all made, 1 some failed, 2 bad file, 130 Ctrl-C)."""
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True)
    out_console = Console()

    def emit_json(event: BatchEvent) -> None:
        sys.stdout.write(event.model_dump_json(exclude_none=True) + "\n")
        sys.stdout.flush()

    try:
        validation = validate(file, config, defaults)
    except BatchFileError as exc:
        if json_progress:
            problems = [{"line": p.line, "message": p.message} for p in exc.problems]
            sys.stdout.write(json.dumps({"kind": "invalid", "problems": problems, "more": exc.more}) + "\n")
        err.print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False, soft_wrap=True)
        for line in exc.lines():
            err.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        return 2
    for notice in validation.notices:
        err.print(f"note: {notice}", style="dim", soft_wrap=True, markup=False)

    def run(on_event: Callable[[BatchEvent], None]) -> BatchSummary:
        return run_batch(file, out, engine=engine, workers=workers, gpu_slots=gpu_slots, address=address,
                         config_file=config, on_event=on_event, validation=validation)  # fmt: skip

    if json_progress:
        summary = run(emit_json)
    elif err.is_terminal:
        with RichProgress(err, validation.total) as progress:
            summary = run(progress.on_event)
    else:
        summary = run(PlainProgress(_write_stderr, validation.total, Path(out or default_batch_out(file))).on_event)
    (err if json_progress else out_console).print(summary_table(summary))
    counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
    err.print(f"{counts} in {summary.seconds:.1f} s; summary: {summary.summary_path}", highlight=False, soft_wrap=True)
    if summary.interrupted:
        err.print("interrupted: nothing half-written was kept; run the same command again to resume", soft_wrap=True)
    return summary.exit_code


def _write_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def summary_table(summary: BatchSummary, limit: int = 40) -> Any:
    from rich.markup import escape
    from rich.table import Table

    colors = {"ok": "green", "failed": "red", "skipped": "cyan", "interrupted": "yellow", "pending": "yellow"}
    table = Table(title=f"newsreel batch: {summary.out}", title_justify="left")
    for column in ("line", "name", "status", "cache", "seconds", "error"):
        table.add_column(column, overflow="fold")
    rows = summary.items
    if len(rows) > limit:  # a long batch shows its problems first
        rows = sorted(rows, key=lambda r: (r.status in ("ok", "skipped"), r.line))[:limit]
    n_stages = len(STAGES)
    for r in rows:
        cache = f"{r.cached}/{n_stages} hit" if r.cached is not None else ""
        table.add_row(
            str(r.line),
            escape(r.name),
            f"[{colors[r.status]}]{r.status}[/]",
            cache,
            f"{r.seconds:.1f}",
            escape(plain_text(r.error or "")),
        )
    if len(summary.items) > len(rows):
        table.add_row("", f"... {len(summary.items) - len(rows)} more in batch.json", "", "", "", "")
    return table


class PlainProgress:
    """One plain line per item as it finishes, e.g. `[3/10] ok  Storm Hits Coast -> out/storm-hits-coast (12.3 s)`
    or `[4/10] failed  Storm Hits Coast (line 5): <the error on one line>`, each written (and flushed) by `write`."""

    def __init__(self, write: Callable[[str], None], total: int, out_root: Path):
        self.write = write
        self.total = total
        self.out_root = out_root
        self.done = 0
        self.headlines: dict[int, str] = {}  # line -> headline, for the items now running

    def on_event(self, event: BatchEvent) -> None:
        if event.kind == "batch-start" and event.total is not None:
            self.total = event.total
        elif event.kind == "item-start" and event.line is not None:
            self.headlines[event.line] = event.headline or event.name or ""
        elif event.kind == "item-done" and event.line is not None:
            self.done += 1
            headline = self.headlines.pop(event.line, None) or event.name or ""
            self.write(self.format(event, plain_text(headline)))

    def format(self, event: BatchEvent, headline: str) -> str:
        count = f"[{self.done}/{self.total}]"
        folder = self.out_root / (event.name or "")
        if event.status == "ok":
            cached = f", {event.cached}/{len(STAGES)} stages cached" if event.cached else ""
            return f"{count} ok  {headline} -> {folder} ({event.seconds or 0:.1f} s{cached})"
        if event.status == "skipped":
            return f"{count} skipped  {headline} -> {folder} (already made)"
        if event.status == "failed":
            return f"{count} failed  {headline} (line {event.line}): {plain_text(event.error or 'unknown error')}"
        return f"{count} {event.status}  {headline} (line {event.line})"


class RichProgress:
    """One overall bar plus a line per running item (its current stage)."""

    def __init__(self, console: Any, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.overall = self.progress.add_task("batch", total=total, status="")
        self.items: dict[int, Any] = {}
        self.stage_index = {name: i for i, name in enumerate(STAGES)}
        self.failed = 0

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def on_event(self, event: BatchEvent) -> None:
        from rich.markup import escape

        p = self.progress
        if event.kind == "item-start" and event.line is not None:
            label = escape(f"{event.line}: {event.name}"[:28])
            self.items[event.line] = p.add_task(label, total=len(STAGES), status="starting")
        elif event.kind == "stage" and event.line in self.items and event.event is not None:
            e = event.event
            done = self.stage_index.get(e.stage, 0) + (1.0 if e.kind == "done" else e.fraction)
            status = e.stage + (" (cached)" if e.hit else "") + (f": {e.message[:40]}" if e.message else "")
            # the columns render markup: a provider's message may hold brackets
            p.update(self.items[event.line], completed=done, status=escape(plain_text(status)))
        elif event.kind == "item-done" and event.line is not None:
            task = self.items.pop(event.line, None)
            if task is not None:
                p.remove_task(task)
            if event.status not in ("interrupted", "pending"):
                p.advance(self.overall)
            if event.status == "failed":
                self.failed += 1
                name, error = escape(event.name or ""), escape(plain_text(event.error or ""))
                p.console.print(f"[red]failed[/red] line {event.line} {name}: {error}", soft_wrap=True)
            p.update(self.overall, status=f"{self.failed} failed" if self.failed else "")
