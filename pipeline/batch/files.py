"""Batch files: reading text, CSV and JSONL files of headlines, and validating every line before any work.

The file is read twice, both times as a stream. `validate()` checks every line (its options, the providers and
parameters they choose, its output name) and reports all bad lines together, each with its line number, as one
`BatchFileError`. The engine then reads the file again through `iter_items()`. Only small records are kept per item
(its output name during validation), so a 10,000-line file never sits in memory.

Formats (by extension):
- text (any other extension): one headline a line; blank lines and lines starting with `#` are skipped.
- CSV (`.csv`): a header row with a `headline` column. Other columns are `make` options (`seed`, `aspect`, `lang`,
  `voice`, `image_model`, ... any `MakeOptions` field), `name` (or `out`) for the item's output folder,
  `providers.STAGE` for a stage's provider and `STAGE.KEY` for a provider parameter (e.g. `voice.rate`). Empty cells
  are unset; a cell starting with `[` or `{` is JSON; `force` takes stage names separated by commas.
- JSONL (`.jsonl`, `.ndjson`): one JSON object a line with the same keys (nested `providers`/`params` work too).

Bytes that are not UTF-8 are reported at their line (the file is decoded with `surrogateescape`, so one bad line
does not hide the rest), and every problem message is printable on one line (`plain_text`).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, TextIO

from ..errors import NewsreelError
from ..jobs import MakeOptions
from ..runner import default_out
from ..stages import STAGES
from .item import BatchItem
from .plans import Plans

Format = Literal["text", "csv", "jsonl"]

NAME_RE = re.compile(r"\w[\w.\-]{0,119}")  # one folder name: no path separators, no leading dot (fullmatch)
RESERVED_NAMES = {"batch.json"}
NAME_KEYS = ("name", "out")
MAX_PROBLEMS = 200  # bad lines listed in full; beyond this they are counted
MAX_DEPTH = 32  # JSON nesting a line may have (options nest 3 deep; far deeper data cannot even be serialised back)

# Bidirectional-text controls: shown as escapes in messages, so a line naming them cannot reorder what a terminal shows.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escaped(text: str) -> str:
    """`text` with every control character (newlines and tabs too), line separator, lone surrogate and bidi control
    written as an escape (`\\n`, `\\x1b`, `\\udcff`, `\\u202e`): what a message quoting user text shows."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
        else ch
        for ch in text
    )


def plain_text(text: str) -> str:
    """`text` as one printable line: runs of whitespace (newlines included) become one space, then `escaped`."""
    return escaped(" ".join(text.split()))


class Problem(NamedTuple):
    line: int  # 0: the file as a whole
    message: str


class BatchFileError(NewsreelError):
    """The batch file has bad lines: all of them (up to MAX_PROBLEMS) are in `problems`."""

    def __init__(self, path: Path, problems: list[Problem], more: int = 0):
        n = len(problems) + more
        super().__init__(
            f"{path}: {n} problem{'s' if n != 1 else ''}, nothing was made", "fix the lines listed and run again"
        )
        self.path = path
        self.problems = problems
        self.more = more

    def lines(self) -> list[str]:
        out = [f"{'line ' + str(p.line) if p.line else str(self.path)}: {p.message}" for p in self.problems]
        if self.more:
            out.append(f"... and {self.more} more")
        return out


@dataclass
class Validation:
    path: Path
    format: Format
    total: int
    notices: list[str] = field(default_factory=list)  # choices made for the user (e.g. image `auto`), once each
    defaults: dict[str, Any] = field(default_factory=dict)  # the batch's options under every line's own


# ---------------------------------------------------------------------------------------------------------------------
# Reading records


def detect_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "text"


def _open(path: Path) -> TextIO:
    try:
        # surrogateescape: a byte that is not UTF-8 becomes a lone surrogate, reported at its line (_undecodable)
        return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")
    except FileNotFoundError:
        raise NewsreelError(f"batch file {path} does not exist", "check the path") from None
    except IsADirectoryError:
        raise NewsreelError(f"{path} is a folder, not a batch file", "pass a .txt, .csv or .jsonl file") from None
    except OSError as exc:
        raise NewsreelError(f"cannot read the batch file {path}: {exc.strerror}", "check its permissions") from None


class _Raw(NamedTuple):
    line: int
    data: dict[str, Any] | None
    problem: str | None = None


def _undecodable(text: str) -> str | None:
    """Why `text` (decoded with surrogateescape) is not UTF-8, or None."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return f"not UTF-8 text (byte 0x{ord(ch) - 0xDC00:02X} at character {i + 1}; save the file as UTF-8)"
    return None


def _lone_surrogate(data: Any) -> str | None:
    """The first lone surrogate (a JSON `\\ud800` escape: not text) in any key or value of `data`, escaped, or None.
    Iterative: JSON may nest as deep as its parser allows."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            for ch in value:
                if "\ud800" <= ch <= "\udfff":
                    return ch.encode("unicode_escape").decode("ascii")
    return None


def _too_deep(data: Any) -> bool:
    """Whether `data` nests lists and objects more than MAX_DEPTH levels deep (iterative, like _lone_surrogate)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _json(text: str) -> tuple[Any, str | None]:
    """(parsed value, None) or (None, why it is not JSON we take)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, f"nested more than {MAX_DEPTH} levels deep"
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        return None, str(exc).split(";")[0]
    if _too_deep(value):
        return None, f"nested more than {MAX_DEPTH} levels deep"
    return value, None


def _records(path: Path, fmt: Format) -> Iterator[_Raw]:
    """The file's records as dicts of option keys, one at a time, with their line numbers."""
    with _open(path) as f:
        if fmt == "csv":
            yield from _csv_records(f)
            return
        for number, text in enumerate(f, 1):
            stripped = text.strip()
            if not stripped or (fmt == "text" and stripped.startswith("#")):
                continue
            bad = _undecodable(text)
            if bad:
                yield _Raw(number, None, bad)
                continue
            if fmt == "text":
                yield _Raw(number, {"headline": text.rstrip("\r\n")})
                continue
            data, why = _json(stripped)
            if why:
                yield _Raw(number, None, f"not JSON ({why})")
                continue
            if not isinstance(data, dict):
                yield _Raw(number, None, f'a JSON {type(data).__name__}, not an object like {{"headline": "..."}}')
                continue
            lone = _lone_surrogate(data)
            if lone:
                yield _Raw(number, None, f"has a lone surrogate ({lone}), which is not text")
                continue
            yield _Raw(number, data)


def _known_columns() -> str:
    return ", ".join([*MakeOptions.model_fields, *NAME_KEYS, "providers.STAGE", "STAGE.KEY"])


def _key_problem(key: str) -> str | None:
    """Why a column / JSON key is not one a batch item can have, or None."""
    if key in MakeOptions.model_fields or key in NAME_KEYS:
        return None
    left, dot, right = key.partition(".")
    if dot and right:
        if left == "providers" and right in STAGES:
            return None
        if left in STAGES:
            return None
        if left == "providers":
            return f"unknown stage '{right}' in '{key}' (stages are: {', '.join(STAGES)})"
        return f"unknown stage '{left}' in '{key}' (stages are: {', '.join(STAGES)})"
    return f"unknown column '{key}' (columns are: {_known_columns()})"


def _header_problems(header: list[str]) -> list[str]:
    bad = next((why for cell in header if (why := _undecodable(cell))), None)
    if bad:
        return [f"the header is {bad}"]
    problems = []
    if "headline" not in header:
        problems.append(
            f"the header has no 'headline' column (it has: {', '.join(h for h in header if h) or 'nothing'})"
        )
    seen: set[str] = set()
    for column in header:
        if not column:
            problems.append("the header has an empty column name")
        elif column in seen:
            problems.append(f"column '{column}' appears twice in the header")
        else:
            seen.add(column)
            problem = _key_problem(column)
            if problem:
                problems.append(problem)
    return problems


def _csv_records(f: TextIO) -> Iterator[_Raw]:
    reader = csv.reader(f)
    header: list[str] | None = None
    while header is None:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Raw(reader.line_num, None, f"not CSV: {exc}")
            return
        if any(cell.strip() for cell in row):
            header = [cell.strip() for cell in row]
    header_line = reader.line_num
    problems = _header_problems(header)
    if problems:
        for problem in problems:
            yield _Raw(header_line, None, problem)
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Raw(start, None, f"not CSV: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield _Raw(start, None, f"{len(row)} values but the header has {len(header)} columns")
            continue
        data: dict[str, Any] = {}
        bad = None
        for column, cell in zip(header, row):
            value, bad = _cell(column, cell)
            if bad:
                break
            if value is not None:
                data[column] = value
        yield _Raw(start, None, bad) if bad else _Raw(start, data)


def _cell(column: str, cell: str) -> tuple[Any, str | None]:
    """A CSV cell as an option value: None when empty, parsed JSON for `[...]`/`{...}`, a list for `force`."""
    bad = _undecodable(cell)
    if bad:
        return None, f"column '{column}': {bad}"
    text = cell.strip()
    if not text:
        return None, None
    if text[0] in "[{":
        value, why = _json(text)
        if why:
            return None, f"column '{column}': not valid JSON ({why})"
        return value, None
    if column == "force":
        return [s for s in re.split(r"[,\s]+", text) if s], None
    if column == "headline":
        return cell.rstrip("\r\n"), None
    return text, None


# ---------------------------------------------------------------------------------------------------------------------
# Records to items


def _split(data: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(output name or None, MakeOptions data) from one record's keys."""
    name: Any = None
    options: dict[str, Any] = {}
    providers: dict[str, Any] = {}
    params: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        problem = _key_problem(key)
        if problem:
            raise NewsreelError(problem, "")
        if key in NAME_KEYS:
            if name is not None:
                raise NewsreelError("both 'name' and 'out' are set", "")
            name = value
        elif "." in key:
            left, _, right = key.partition(".")
            if left == "providers":
                providers[right] = value
            else:
                params.setdefault(left, {})[right] = value
        else:
            options[key] = value
    for key, extra in (("providers", providers), ("params", params)):
        if extra:
            given = options.get(key, {})
            if not isinstance(given, dict):
                raise NewsreelError(f"'{key}' must be an object", "")
            merged = {**given}
            for k, v in extra.items():
                merged[k] = {**merged.get(k, {}), **v} if key == "params" and isinstance(merged.get(k), dict) else v
            options[key] = merged
    if name is not None and not isinstance(name, str):
        raise NewsreelError(f"the name must be text, not {json.dumps(name)}", "")
    return name, options


def check_name(name: str) -> str:
    if name in RESERVED_NAMES or not NAME_RE.fullmatch(name):
        raise NewsreelError(
            f"output name '{escaped(name)}' is not a plain folder name",
            "use letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    return name


def _item(raw: _Raw, defaults: dict[str, Any] | None = None) -> tuple[BatchItem, MakeOptions]:
    if raw.problem is not None or raw.data is None:
        raise NewsreelError(raw.problem or "unreadable", "")
    if not str(raw.data.get("headline") or "").strip() and "url" not in raw.data:  # a fetched article has a title
        raise NewsreelError("the headline is empty" if "headline" in raw.data else "no headline", "")
    name, data = _split(raw.data)
    data = {**(defaults or {}), **data}  # the batch's options (`newsreel batch --reveal`); a line's own value wins
    options = MakeOptions.parse(data)
    name = check_name(name.strip() if name else default_out(options.headline or options.url or "").name)
    return BatchItem(raw.line, name, options.model_dump(mode="json", exclude_unset=True)), options


def validate(path: Path | str, config_file: Path | None = None, defaults: dict[str, Any] | None = None) -> Validation:
    """Check every line of a batch file before any work: options, providers and their parameters (the plan is built),
    output names (unique, case-insensitively). Raises BatchFileError listing every bad line; streams the file.
    `defaults`: MakeOptions values for every line that does not set them itself (e.g. {"reveal": True})."""
    path = Path(path)
    fmt = detect_format(path)
    problems: list[Problem] = []
    more = 0
    names: dict[str, int] = {}  # casefolded output name -> its line: the only per-item memory
    plans = Plans(config_file)
    total = 0

    def problem(line: int, message: str) -> None:
        nonlocal more
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem(line, plain_text(message)))
        else:
            more += 1

    for raw in _records(path, fmt):
        try:
            item, options = _item(raw, defaults)
            plans.get(options)
        except NewsreelError as exc:
            problem(raw.line, exc.one_line())
            continue
        key = item.name.casefold()
        if key in names:
            problem(
                raw.line,
                f"output name '{item.name}' is already used by line {names[key]} (set a 'name' for one of them)",
            )
            continue
        names[key] = raw.line
        total += 1
    if not problems and not total:
        problem(0, "has no headlines" if fmt != "csv" else "has no rows under the header")
    if problems:
        raise BatchFileError(path, problems, more)
    return Validation(path=path, format=fmt, total=total, notices=list(plans.notices), defaults=dict(defaults or {}))


def iter_items(path: Path | str, defaults: dict[str, Any] | None = None) -> Iterator[BatchItem]:
    """The items of an already validated file, streamed (the second pass), with the batch's `defaults`."""
    path = Path(path)
    for raw in _records(path, detect_format(path)):
        try:
            yield _item(raw, defaults)[0]
        except NewsreelError as exc:
            message = plain_text(exc.one_line()) + " (the file changed during the batch)"
            raise BatchFileError(path, [Problem(raw.line, message)]) from None
