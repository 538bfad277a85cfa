"""The `newsreel` command: typer for arguments, rich for progress and tables. A thin caller of the runner.

The `cache` sub-commands are in `cli_cache.py`, the batch display in `cli_batch.py`, and how a failure becomes one
line on stderr in `cli_errors.py`; `main()` here is the entry point.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.cells import cell_len, set_cell_size
from rich.console import Console, Group
from rich.padding import Padding
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import __version__
from .cli_cache import cache_app
from .cli_errors import err_console, fail, is_usage_error, os_error_message, printable, usage_message
from .errors import NewsreelError

app = typer.Typer(
    help="Turn one news headline into a captioned, narrated, labelled one-minute video, offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
app.add_typer(config_app, name="config")

console = Console()

ConfigOpt = typer.Option(None, "--config", help="A newsreel.toml to use on top of the user and project ones.")
RevealOpt = typer.Option(None, "--reveal/--no-reveal", help="End with a card saying how the clip was made and what its script invented (config: reveal).")
PresetOpt = typer.Option(None, "--preset", help="A named bundle of option defaults; flags given with it win. lesson: --reveal.")


def _parse_pairs(pairs: list[str], what: str, example: str) -> list[tuple[str, str]]:
    parsed = []
    for pair in pairs:
        left, sep, right = pair.partition("=")
        if not sep or not left or not right:
            raise NewsreelError(f"{what} '{pair}' is not of the form {example}", f"e.g. {what} {example}")
        parsed.append((left.strip(), right.strip()))
    return parsed


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:  # not JSON (JSONDecodeError), or a number past Python's 4300-digit limit: plain text
        return value


@app.command()
def make(
    headline: Optional[str] = typer.Argument(None, help="The news headline, in quotes (optional with --article or --url: the article's title)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder to write (default: newsreel-out/<slug>)."),
    article: Optional[Path] = typer.Option(None, "--article", help="Make the video from this article: a plain text, Markdown or saved HTML file."),
    url: Optional[str] = typer.Option(None, "--url", help="Make the video from the article at this http(s) address (fetched once, then cached)."),
    refresh: bool = typer.Option(False, "--refresh", help="With --url: fetch the page again instead of using the cached fetch."),
    seed: Optional[int] = typer.Option(None, help="Same headline + seed gives the same video."),
    aspect: Optional[str] = typer.Option(None, help="16:9 (1280x720), 9:16 (1080x1920) or 1:1 (1080x1080)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the script and voice, e.g. en, de, zh."),
    provider: list[str] = typer.Option([], "--provider", "-p", help="Choose a provider: STAGE=NAME (repeatable)."),
    set_: list[str] = typer.Option([], "--set", help="Provider parameter: STAGE.KEY=VALUE (repeatable)."),
    image_model: Optional[str] = typer.Option(None, "--image-model", help="Stable Diffusion model: folder, .safetensors/.ckpt file or downloaded HF id."),
    init_image: Optional[Path] = typer.Option(None, "--init-image", help="img2img: start the image from this picture."),
    strength: Optional[float] = typer.Option(None, "--strength", help="img2img: 0 keeps the init image, 1 ignores it."),
    voice: Optional[str] = typer.Option(None, "--voice", help="Voice name of the voice provider (e.g. en-gb)."),
    music: Optional[str] = typer.Option(None, "--music", help="Background music under the voice: an audio file, or 'default' for the bundled bed."),
    presenter: Optional[str] = typer.Option(None, "--presenter", help="Presenter provider: anchor (default, a drawn news anchor), none (no presenter) or sprites."),
    reveal: Optional[bool] = RevealOpt,
    preset: Optional[str] = PresetOpt,
    force: list[str] = typer.Option([], "--force", help="Redo this stage even if cached (repeatable)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Redo every stage; results still refresh the cache."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Make one video from a headline, or from an article (--article FILE, --url URL)."""
    from .jobs import MakeOptions
    from .runner import Event, default_out, run
    from .sources import resolve_options

    if article is not None and url is not None:
        raise NewsreelError("give --article or --url, not both", "one video is made from one article")
    if refresh and url is None:
        raise NewsreelError("--refresh goes with --url (it fetches the page again)", "add --url URL, or leave --refresh out")
    if headline is None and article is None and url is None:
        raise NewsreelError(
            "newsreel make needs its HEADLINE, or an article: --article FILE or --url URL", "see newsreel make --help"
        )
    source = None
    if article is not None:
        from .sources.article import read_article

        source = read_article(article)

    params: dict[str, dict[str, Any]] = {}
    for dotted, value in _parse_pairs(set_, "--set", "voice.rate=170"):
        stage, dot, key = dotted.partition(".")
        if not dot or not key:
            raise NewsreelError(f"--set '{dotted}' needs STAGE.KEY", "e.g. --set voice.rate=170")
        params.setdefault(stage, {})[key] = _json_or_text(value)
    options = MakeOptions.parse(
        {
            "headline": headline,
            "source": source,
            "url": url,
            "refresh": refresh,
            "seed": seed,
            "aspect": aspect,
            "lang": lang,
            "providers": dict(_parse_pairs(provider, "--provider", "voice=espeak")),
            "params": params,
            "image_model": image_model,
            "init_image": str(init_image) if init_image else None,
            "strength": strength,
            "voice": voice,
            "music": music,
            "presenter": presenter,
            "reveal": reveal,
            "preset": preset,
            "force": force,
            "no_cache": no_cache,
        }
    )
    plan = options.plan(config)
    options = resolve_options(options, plan.settings.cache_dir)  # --url: fetched now (or read from the fetch cache)
    headline = options.headline
    assert headline is not None  # given, or the article's title (MakeOptions says so otherwise)
    out = out or default_out(headline)
    # A delegating provider's notice (image `auto`: "the slate backdrop, because ...") matters only on a run that
    # builds that stage: a cached stage was made long ago and the note would repeat on every run.
    chosen = plan.settings.providers.model_dump()
    delegated = {stage for stage, prov in plan.providers.items() if prov.name != chosen.get(stage)}
    pending_notices = list(plan.notices)

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<9}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[status]}", markup=False),  # provider messages may quote the headline
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def on_event(event: Event) -> None:
        if not progress.live.is_started:  # started by the first event, so a refusal before any stage stays one line
            progress.start()
        if event.stage not in tasks:
            tasks[event.stage] = progress.add_task(event.stage, total=1.0, status="")
        task = tasks[event.stage]
        if event.kind == "progress":
            progress.update(task, completed=event.fraction, status=event.message[:40])
        elif event.kind == "done":
            progress.update(task, completed=1.0, status="cached" if event.hit else "done")
            progress.stop_task(task)
            if not event.hit and event.stage in delegated:
                while pending_notices:
                    _print_note(pending_notices.pop(0))
        elif event.kind == "notice":  # e.g. a damaged cache entry being rebuilt: always worth a whole line
            err_console.print(f"note: {printable(event.message)}", style="yellow", markup=False, highlight=False, soft_wrap=True)

    finished = False
    try:
        result = run(
            headline, plan, out, force=options.force, no_cache=options.no_cache, on_event=on_event, source=options.source
        )
        finished = True
    finally:
        if finished or err_console.is_terminal:
            progress.stop()
        else:  # a log or a script reading stderr gets the one error line: no final progress table, no blank line
            progress.live.transient = True
            progress.live.stop()

    table = Table(title=Text(f"newsreel {__version__}: {result.out}"), title_justify="left")
    for column in ("stage", "provider", "cache", "seconds"):
        table.add_column(column)
    for stage, rec in result.record["stages"].items():
        table.add_row(stage, Text(rec["provider"]), "hit" if rec["hit"] else "miss", f"{rec['seconds']:.2f}")
    table.add_row("total", "", "", f"{result.record['seconds']:.2f}")
    console.print(table)
    console.print(f"video: {result.video}", markup=False, highlight=False, soft_wrap=True)


def _print_note(notice: str) -> None:
    """One line on stderr. On a terminal the note is cut to its width (`newsreel doctor` shows it whole); a log
    gets all of it."""
    line = f"note: {printable(notice)}"
    more = "… (details: newsreel doctor)"
    if err_console.is_terminal and cell_len(line) > err_console.width > cell_len(more) + 20:
        line = set_cell_size(line, err_console.width - cell_len(more)).rstrip() + more
    err_console.print(line, style="dim", soft_wrap=True, markup=False, highlight=False)


@app.command()
def providers() -> None:
    """List the installed providers of each stage and what each needs."""
    from .config import ProviderChoice
    from .plugins import all_providers

    defaults = ProviderChoice().model_dump()
    # One block per provider: a heading line (name, version, needs) and the summary wrapped under it, so the
    # listing stays readable in an 80-column terminal (a six-column table wrapped every cell into a tall strip).
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="bold")  # the stage, once per group
    grid.add_column(overflow="fold")
    shown_stage = None
    for stage, name, cls in all_providers():
        head = Text(name, style="bold")
        if defaults.get(stage) == name:
            head.append(" (default)")
        if isinstance(cls, NewsreelError):
            head.append("  broken", style="red")
            body = Text(cls.one_line())
        else:
            missing = cls.missing_packages()
            head.append(f"  v{cls.version}  {cls.needs.describe()}", style="dim")
            if missing:
                head.append(f"  not usable: needs {', '.join(missing)}", style="yellow")
            body = Text(cls.summary)
        grid.add_row(stage if stage != shown_stage else "", Group(head, Padding(body, (0, 0, 0, 2))))
        shown_stage = stage
    console.print(grid)
    for notice in _current_notices(None):
        console.print(Text(f"note: {printable(notice)}"), highlight=False)  # wrapped to the terminal like the rest


def _current_notices(config: Optional[Path]) -> list[str]:
    """What the configured delegating providers (image `auto`) would choose on this machine, one line each."""
    from .config import load_settings
    from .runner import build_plan

    try:
        return build_plan(load_settings(config)).notices
    except NewsreelError:  # a broken config: `doctor` reports it; the listing still shows what is installed
        return []


@app.command()
def doctor(config: Optional[Path] = ConfigOpt) -> None:
    """Check everything a run needs and say how to fix what is missing."""
    from .assets import FONT_BOLD, FONT_REGULAR
    from .cache import Cache
    from .config import load_settings
    from .runner import build_plan

    problems = 0
    table = Table()
    table.add_column("check")
    table.add_column("result")

    def row(name: str, ok: bool, detail: str) -> None:
        nonlocal problems
        problems += not ok
        verdict = Text("ok ", style="green") if ok else Text("problem ", style="red")
        table.add_row(Text(name), verdict + Text(printable(detail)))  # Text: paths and messages are not markup

    row("python", sys.version_info >= (3, 11), sys.version.split()[0])
    try:
        settings = load_settings(config)
        plan = build_plan(settings)
        row("config", True, "valid")
    except NewsreelError as exc:
        row("config", False, exc.one_line())
        console.print(table)
        raise typer.Exit(2)
    for stage, prov in plan.providers.items():
        try:
            prov.check()
            row(f"{stage}: {prov.name}", True, prov.summary)
        except NewsreelError as exc:
            row(f"{stage}: {prov.name}", False, exc.one_line())
    for notice in plan.notices:  # why a delegating provider (image `auto`) chose what it did, in full
        table.add_row("note", Text(printable(notice)))
    for font in (FONT_REGULAR, FONT_BOLD):
        row(f"font {font.name}", font.is_file(), str(font) if font.is_file() else "missing: restore assets/fonts from the repository")
    try:
        cache = Cache(settings.cache_dir)
        cache._writable()
        checked, bad = cache.verify(hashes=False)  # sizes and metadata only: fast; `cache verify` reads every byte
        if bad:
            row("cache", False, f"{len(bad)} of {checked} entries damaged in {settings.cache_dir} (newsreel cache verify --repair removes them)")
        else:
            row("cache", True, f"{settings.cache_dir} ({checked} entries, sizes checked)")
    except NewsreelError as exc:
        row("cache", False, exc.one_line())
    console.print(table)
    if problems:
        raise typer.Exit(2)


@config_app.command("show")
def config_show(config: Optional[Path] = ConfigOpt) -> None:
    """Print the effective configuration (secrets masked)."""
    from .config import load_settings

    console.print_json(json.dumps(load_settings(config).masked()))


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def batch(
    file: Optional[Path] = typer.Argument(None, help="Headlines: a text file (one a line), a CSV (a headline column) or JSONL."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the videos and batch.json (default: newsreel-out/<file name>)."),
    feed: Optional[str] = typer.Option(None, "--feed", help="Instead of a file: an RSS/Atom feed (URL or file), one video per entry from its linked article."),
    limit: Optional[int] = typer.Option(None, "--limit", help="With --feed: only the first N entries."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes (local, default 1) or CPUs of a local Ray instance (default 2)."),
    engine: str = typer.Option("local", "--engine", help="local (a process pool) or ray (needs the ray extra of newsreel)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (e.g. auto or ray://head:10001); none starts a local one."),
    gpu_slots: int = typer.Option(1, "--gpu-slots", help="GPU stages that may run at once."),
    json_progress: bool = typer.Option(False, "--json-progress", help="Print progress as JSON lines on stdout."),
    reveal: Optional[bool] = RevealOpt,
    preset: Optional[str] = PresetOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Make a video for every line of a file, or every entry of a feed (--feed); every line is checked first. Run it
    again to resume."""
    from .cli_batch import cli_batch

    if (file is None) == (feed is None):
        raise NewsreelError(
            "newsreel batch needs a FILE of headlines or --feed URL_OR_FILE" + (", not both" if file else ""),
            "e.g. newsreel batch headlines.txt, or newsreel batch --feed https://example.com/rss.xml --limit 5",
        )
    if limit is not None and feed is None:
        raise NewsreelError("--limit goes with --feed", "leave --limit out, or add --feed URL_OR_FILE")
    # Options for every line that does not set them itself; an unknown preset fails now, before the feed is read.
    defaults: dict[str, Any] = {k: v for k, v in {"reveal": reveal, "preset": preset}.items() if v is not None}
    if preset is not None:
        from .config import preset_options

        preset_options(preset)
    if feed is not None:  # the feed becomes OUT/feed.jsonl, a batch file like any other (pipeline/sources/feed.py)
        from .sources.feed import default_feed_out, read_feed, write_batch_file

        entries = read_feed(feed, limit=limit)
        out = out or default_feed_out(feed)
        try:
            file = write_batch_file(entries, out)
        except OSError as exc:
            raise NewsreelError(f"cannot write to the output folder {out}: {exc.strerror}", "choose a writable folder with --out") from None
    assert file is not None

    try:
        code = cli_batch(file, out=out, engine=engine, workers=workers, gpu_slots=gpu_slots, address=address, json_progress=json_progress, config=config, defaults=defaults)
    except KeyboardInterrupt:  # before the work started (a batch in progress handles Ctrl-C itself)
        err_console.print("interrupted: nothing was made")
        code = 130
    if code:
        raise SystemExit(code)  # not typer.Exit: main() runs the app with standalone_mode=False, which drops its code


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs --token-file."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where jobs (service.sqlite3), uploads and logs live (default: the user data dir)."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help="Where run folders go (default: DATA_DIR/runs)."),
    max_running: int = typer.Option(1, "--max-running", min=1, max=64, help="Jobs that run at once; the rest queue."),
    max_queued: int = typer.Option(50, "--max-queued", min=1, help="Jobs that may wait; more get HTTP 429."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", min=0.01, help="Largest init image upload, in MB."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File holding the access token every request must carry."),
    token: Optional[str] = typer.Option(None, "--token", help="The access token itself (visible to other users in ps: prefer --token-file)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Run jobs a stopped server left unfinished again, or mark them failed."),
    allow_server_paths: bool = typer.Option(False, "--allow-server-paths", help="Let clients name files, folders and API addresses on this machine in provider parameters (trusted clients only)."),
    allow_private_urls: bool = typer.Option(False, "--allow-private-urls", help="Let clients' article URLs reach loopback, private and link-local addresses (this machine, its network); setting service_allow_private_urls."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Serve the web page and the HTTP API (FastAPI + uvicorn): make videos from a browser, follow them, download them."""
    from .service import ServiceConfig, read_token, settings_allow_private_urls, settings_token
    from .service import serve as run_service

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "runs_dir": runs_dir,
        "config_file": config,
        "token": read_token(token, token_file, settings_token(config)),
        "max_running": max_running,
        "max_queued": max_queued,
        "max_image_bytes": int(max_upload_mb * 1024 * 1024),
        "resume": resume,
        "allow_server_paths": allow_server_paths,
        "allow_private_urls": allow_private_urls or settings_allow_private_urls(config),
    }
    if data_dir is not None:
        options["data_dir"] = data_dir
    run_service(ServiceConfig(**options))


@app.command()
def verify(
    file: Path = typer.Argument(..., help="A video (or a run folder, for its video.mp4)."),
    json_: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    watermark: bool = typer.Option(True, "--watermark/--no-watermark", help="Also look for the invisible video watermark."),
    trust: list[Path] = typer.Option([], "--trust", help="PEM file of CA certificates to trust (repeatable)."),
) -> None:
    """Check a video's provenance: its C2PA manifest (signature, signer, what made it), the provenance.json beside
    it, and newsreel's invisible watermark.

    \b
    Exit codes:
      0  verified: newsreel's signed manifest checks out
      1  not verified: tampered, truncated, bad signature,
         no provenance, or made by another tool
      2  unreadable input: missing file, not a video
    """
    from .provenance import format_verdict
    from .provenance import verify as check

    verdict = check(file, watermark=watermark, trust_anchors=trust)
    if json_:
        print(verdict.model_dump_json(indent=2))
    else:
        console.print(format_verdict(verdict), markup=False, highlight=False, soft_wrap=True)
    if verdict.exit_code:
        raise SystemExit(verdict.exit_code)  # not typer.Exit: main() runs the app with standalone_mode=False


def main() -> None:
    for stream in (sys.stdout, sys.stderr):
        # A path made of undecodable bytes (surrogateescape) must print as escapes, not end in UnicodeEncodeError.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(OSError, ValueError):  # a closed or unusual stream: keep it as it is
                reconfigure(errors="backslashreplace")
    try:
        # Without standalone mode click returns (not raises) the exit code of typer.Exit and of a Ctrl-C.
        code = app(prog_name="newsreel", standalone_mode=False)
        if isinstance(code, int) and code:
            if code == 130:
                err_console.print("interrupted: nothing half-written was kept")
            sys.exit(code)
    except NewsreelError as exc:
        fail(exc.one_line())
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted: nothing half-written was kept")
        sys.exit(130)
    except BrokenPipeError:  # `newsreel providers | head`: the reader left; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail again
        sys.exit(1)
    except OSError as exc:
        message = os_error_message(exc)
        if message is None:
            raise
        fail(message)
    except Exception as exc:  # click/typer usage errors come through here in non-standalone mode
        if not is_usage_error(exc):
            raise  # a bug: show the traceback
        message = usage_message(exc, app)
        if not message:  # no arguments at all: the help is the answer
            exc.show()
            sys.exit(exc.exit_code)
        fail(message)
