"""How the `newsreel` command line fails: one line on stderr naming the problem and the fix, never a traceback for
something the user caused, and text from outside (headlines, paths, messages) printed as one safe line.

- `fail`: "error: ..." and the exit code (2 unless told);
- `usage_message`: a click/typer usage error (unknown option, missing argument, bad value) as one line;
- `os_error_message`: a full disk, a quota or a folder the user may not write, as one line with the fix;
- `printable`: control characters, bidi controls and undecodable bytes shown as escapes.
`cli.main()` decides which applies; `err_console` is the stderr console every command prints its notes on.
"""

from __future__ import annotations

import errno
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

err_console = Console(stderr=True)


def printable(text: str) -> str:
    """`text` as one line a terminal shows as it reads: whitespace runs become one space; control characters, bidi
    controls and lone surrogates (undecodable command-line bytes) become escapes like \\x1b, \\u202e, \\udcff."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() or ch == " " else _escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def fail(message: str, code: int = 2) -> NoReturn:
    """The CLI's one way to fail: one line on stderr, never parsed as rich markup, then exit."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", printable(message)), highlight=False, soft_wrap=True)
    sys.exit(code)


def is_usage_error(exc: BaseException) -> bool:
    # typer vendors its own copy of click (typer._click) whose classes are not click's; match either by name.
    return any(c.__name__ == "ClickException" and c.__module__.endswith("exceptions") for c in type(exc).__mro__)


def usage_message(exc: Any, app: typer.Typer) -> str:
    """A click/typer usage error as one line naming the problem and where the fix is ("" for: show the help)."""
    try:
        return _describe_usage_error(exc, app)
    except Exception:  # typer's internals moved: its own message is still one line
        return f"{exc.format_message()} (see newsreel --help)"


def _describe_usage_error(exc: Any, app: typer.Typer) -> str:
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else _command_from_argv(app)
    see = f"see {command} --help"
    kind = {c.__name__ for c in type(exc).__mro__}
    param = getattr(exc, "param", None)
    name = "/".join(getattr(param, "opts", None) or [])
    if param is not None and getattr(param, "param_type_name", "") == "argument":  # as the help shows it: HEADLINE
        name = str(getattr(param, "metavar", None) or param.name).upper()
    if "NoArgsIsHelpError" in kind:
        return ""
    if "NoSuchOption" in kind:
        option = exc.option_name
        setting = option.lstrip("-").replace("-", "_")
        from .config import Settings

        if setting in Settings.model_fields:
            return (f"{command} has no option {option} ({setting} is a setting: put {setting} = ... in newsreel.toml "
                    f"or set NEWSREEL_{setting.upper()}; {see})")
        close = sorted(getattr(exc, "possibilities", None) or [])
        guess = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"{command} has no option {option} ({see}{guess})"
    if "MissingParameter" in kind:
        return f"{command} needs its {name or 'argument'} ({see})"
    if "BadParameter" in kind:
        problem = _pydantic_problem(exc.__cause__) or str(exc.message).rstrip(".")
        return f"{name or 'a value'}: {problem} ({see})"
    message = str(exc.format_message()).rstrip(".")
    return f"{message[:1].lower()}{message[1:]} ({see})"


def _command_from_argv(app: typer.Typer) -> str:
    """"newsreel make" when argv names a command (errors raised while parsing its options carry no context)."""
    commands = getattr(typer.main.get_command(app), "commands", {})
    word = sys.argv[1] if len(sys.argv) > 1 else ""
    return f"newsreel {word}" if word in commands else "newsreel"


def _pydantic_problem(cause: BaseException | None) -> str:
    """typer converts values with pydantic; its first error, said with the value given ('abc' is not ...)."""
    errors = getattr(cause, "errors", None)
    if not callable(errors):
        return ""
    try:
        err = errors()[0]
    except Exception:  # not a pydantic ValidationError after all
        return ""
    value = f"'{err.get('input')}'"
    if err.get("type") == "int_parsing":
        return f"{value} is not a valid integer"
    if err.get("type") == "float_parsing":
        return f"{value} is not a valid number"
    message = str(err.get("msg", "")).rstrip(".")
    if message.startswith("Input should"):
        return f"{value} should{message.removeprefix('Input should')}"
    return f"{value}: {message}"


# OSErrors a user causes and fixes (a full disk, a folder they may not write): one line, not a traceback.
_USER_OS_ERRORS = {
    errno.ENOSPC: "free some disk space (newsreel cache prune --older-than 30 removes old cache entries)",
    errno.EDQUOT: "free some space in your quota (newsreel cache prune --older-than 30 removes old cache entries)",
    errno.EACCES: "check that folder's permissions, or choose another with --out or NEWSREEL_CACHE_DIR",
    errno.EPERM: "check that folder's permissions, or choose another with --out or NEWSREEL_CACHE_DIR",
    errno.EROFS: "that file system is read-only: choose a writable folder with --out or NEWSREEL_CACHE_DIR",
}


def os_error_message(exc: OSError) -> str | None:
    hint = _USER_OS_ERRORS.get(exc.errno or 0)
    if hint is None:
        return None
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where} ({hint})"
