"""`newsreel cache ls|prune|verify` on the command line: the stage cache listed, pruned and checked.

`cli.py` registers `cache_app` on the `newsreel` app; every message and exit code is the command line's (a bad
choice is a NewsreelError, which `cli.main()` prints as one line with exit code 2).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import NewsreelError

cache_app = typer.Typer(help="Inspect and prune the stage cache.", no_args_is_help=True)
console = Console()

# The same --config option as every command in cli.py, repeated on purpose: cli.py imports this module to register
# it, so this one cannot import cli.py.
ConfigOpt = typer.Option(None, "--config", help="A newsreel.toml to use on top of the user and project ones.")


@cache_app.command("ls")
def cache_ls(config: Optional[Path] = ConfigOpt) -> None:
    """List cache entries: stage, provider, age, size."""
    from .cache import Cache
    from .config import load_settings

    settings = load_settings(config)
    cache = Cache(settings.cache_dir)
    table = Table(title=str(cache.root), title_justify="left")
    for column in ("key", "stage", "provider", "age", "size", "built in"):
        table.add_column(column)
    total = 0
    entries = cache.entries()
    for entry in sorted(entries, key=lambda e: e.meta.get("created", 0)):
        size = entry.size
        total += size
        if entry.problem:
            table.add_row(entry.key[:12], "?", "?", "", _size(size), "", style="red")
            continue
        age = time.time() - entry.meta.get("created", 0)
        table.add_row(entry.key[:12], Text(str(entry.meta.get("stage", "?"))), Text(str(entry.meta.get("provider", "?"))), _age(age), _size(size), f"{entry.meta.get('seconds', 0):.1f}s")
    console.print(table)
    console.print(f"{len(entries)} entries, {_size(total)}", highlight=False)
    # Converted models live beside the entries by default and are often the biggest thing in the cache folder.
    models = settings.models_dir or settings.cache_dir / "models"
    if models.is_dir():
        from .cache import tree_size

        console.print(f"converted models: {_size(tree_size(models))} in {models} (not entries; delete the folder to reconvert)", markup=False, highlight=False)
    unusable = sum(1 for e in entries if e.problem)
    if unusable:
        console.print(f"{unusable} entries are unusable (newsreel cache verify --repair, or cache prune, removes them)", style="red", markup=False)


@cache_app.command("prune")
def cache_prune(
    older_than: Optional[float] = typer.Option(None, help="Remove entries older than this many days."),
    stage: Optional[str] = typer.Option(None, help="Only entries of this stage."),
    all_: bool = typer.Option(False, "--all", help="Remove every entry."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Remove cache entries (by age, by stage, or all). Without --stage, fetched articles (--url) go too."""
    from .cache import Cache
    from .config import load_settings
    from .plugins import check_stage

    if not (all_ or older_than is not None or stage):
        raise NewsreelError("cache prune needs --older-than DAYS, --stage STAGE or --all", "e.g. newsreel cache prune --older-than 30")
    if stage:
        check_stage(stage)
    now = time.time()

    def doomed(entry) -> bool:
        if stage and entry.meta.get("stage") != stage:
            return False
        if older_than is not None and now - entry.meta.get("created", now) < older_than * 86400:
            return False
        return True

    cache = Cache(load_settings(config).cache_dir)
    sizes = {e.key: e.size for e in cache.entries()}
    removed = cache.prune(keep=lambda e: not doomed(e))
    unusable = sum(1 for e in removed if e.problem)
    note = f" ({unusable} with unreadable metadata)" if unusable else ""
    freed = sum(sizes.get(e.key, 0) for e in removed)
    fetched = ""
    if not stage:  # fetched articles belong to no stage; --older-than and --all take them too
        from .sources.fetch import prune_fetches

        count, size = prune_fetches(cache.root, older_than_s=None if older_than is None else older_than * 86400)
        freed += size
        fetched = f" and {count} fetched article{'' if count == 1 else 's'}"
    console.print(f"removed {len(removed)} entries{note}{fetched}, {_size(freed)} freed", markup=False, highlight=False)


@cache_app.command("verify")
def cache_verify(
    repair: bool = typer.Option(False, "--repair", help="Remove the damaged entries (the next run rebuilds them)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Check every cache entry's files against the sizes and hashes sealed with it. Exit 1 when any is damaged."""
    from .cache import Cache
    from .config import load_settings

    cache = Cache(load_settings(config).cache_dir)
    checked, bad = cache.verify(repair=repair)
    for entry, why in bad:
        stage = entry.meta.get("stage", "?")
        console.print(f"{'removed' if repair else 'damaged'}: {entry.key[:12]} ({stage}): {why}", markup=False, highlight=False)
    console.print(f"{checked} entries checked, {len(bad)} damaged{', removed' if repair and bad else ''}", markup=False, highlight=False)
    if bad:
        raise SystemExit(1)  # not typer.Exit: main() runs the app with standalone_mode=False


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f}{unit}"
        n /= 1024
    return f"{n:.1f}TB"
