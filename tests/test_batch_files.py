"""Batch files (pipeline/batch/files.py) under hostile input: random lines (lone surrogates and bytes that are not
UTF-8, control characters, bidi controls, markup brackets, odd CSV quoting, broken or extreme JSON) through
`validate`. Every line is either accepted or reported as one printable line naming its number; nothing else
escapes. Uses the fast test plugin providers, so planning a line costs milliseconds."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.batch import BatchFileError, iter_items, validate
from pipeline.cli import app
from tests.helpers import TEST_PROVIDERS, work_done

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
SPECIALS = BIDI + "[]{}/\\\"',#.:\t\x00\x07\x1b\x0b\x0c\x1c\x85\u2028\u2029\ufeff\ud800\udfff\udc80"


@pytest.fixture
def providers(test_plugin, isolated_config, monkeypatch):
    for stage, name in TEST_PROVIDERS.items():
        monkeypatch.setenv(f"NEWSREEL_PROVIDERS__{stage.upper()}", name)
    return test_plugin


# Characters of any kind, surrogates included (hypothesis leaves them out unless asked), with the troublemakers
# above drawn often. No line breaks: the lines are joined with them.
chars = st.one_of(
    st.characters(exclude_categories=(), exclude_characters="\n\r"),
    st.sampled_from(SPECIALS),
)
text = st.text(chars, max_size=24)
WORDS = ["Storm", "Hits", "Coast", "Mars", "Rover", "Finds", "Ice", "Prices", "Fall", "[bold]Markup[/bold]", "Café",
         "東京", "مرحبا", "Ünïcödé", "[/]"]
headlines = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
keys = st.one_of(
    st.sampled_from(
        ["headline", "name", "out", "seed", "aspect", "lang", "voice", "providers", "params", "force", "no_cache",
         "providers.voice", "voice.pitch", "script.seed", "sound.rate", "providers.sound", "colour", "image.delay"]
    ),
    text,
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text | headlines,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text | keys, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(keys, json_values, max_size=5).map(
    lambda d: {"headline": "Storm Hits Coast", **d} if "headline" not in d else d
)
good_objects = st.fixed_dictionaries(
    {"headline": headlines},
    optional={
        "seed": st.integers(0, 99),
        "voice.pitch": st.integers(-9, 9),
        "aspect": st.sampled_from(["16:9", "1:1"]),
        "force": st.sampled_from([["script"], "voice", []]),
        "name": st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    },
)
json_lines = st.one_of(
    good_objects.map(json.dumps),
    st.builds(lambda d, ascii_only: json.dumps(d, ensure_ascii=ascii_only), json_objects, st.booleans()),
    st.builds(lambda d, cut: json.dumps(d)[:cut], json_objects, st.integers(0, 40)),  # broken JSON
    json_values.map(json.dumps),  # JSON, but not an object
    st.sampled_from(['{"seed": 1' + "0" * 5000 + "}", "[" * 3000, '{"headline": "Deep", "params": {"voice": '
                     + "[" * 40 + "]" * 40 + "}}", '{"headline": "A", "seed": NaN}', '{"headline": "\\ud800"}']),
    text,
)  # fmt: skip


def _csv_cell(value: str, style: int) -> str:
    if style == 0:
        return value
    if style == 1:
        return '"' + value.replace('"', '""') + '"'  # proper quoting
    return '"' + value  # an unclosed quote


csv_cells = st.builds(_csv_cell, text | headlines | st.sampled_from(["1", "-1", "9:16", "script,voice", "{", "[1]"]),
                      st.integers(0, 2))  # fmt: skip
csv_headers = st.one_of(
    st.sampled_from(["headline", "headline,seed", "headline,name,voice.pitch", "headline,providers.voice,force",
                     "title,seed", "headline,headline", "headline,,seed"]),
    st.lists(csv_cells, min_size=1, max_size=4).map(",".join),
)  # fmt: skip
csv_rows = st.one_of(
    st.lists(csv_cells, min_size=1, max_size=4).map(",".join),
    st.builds(lambda h, seed: f'"{h}",{seed}', headlines, st.integers(0, 99)),  # a good row under most headers
)


@st.composite
def batch_files(draw) -> tuple[str, list[str]]:
    """(extension, lines) of one batch file."""
    kind = draw(st.sampled_from(["txt", "jsonl", "csv"]))
    if kind == "txt":
        lines = draw(st.lists(text | headlines, min_size=1, max_size=8))
    elif kind == "jsonl":
        lines = draw(st.lists(json_lines, min_size=1, max_size=8))
    else:
        lines = [draw(csv_headers), *draw(st.lists(csv_rows, max_size=7))]
    return kind, lines


def _printable_line(message: str) -> bool:
    return not any(ch in BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in message)


def _content_lines(kind: str, lines: list[str]) -> list[int]:
    """The numbers of the lines a text or JSONL file asks something of (not blank, not a text comment)."""
    numbers = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if number == 1:
            stripped = stripped.lstrip("\ufeff").strip()  # a BOM at the start is the encoding's, not the line's
        if stripped and not (kind == "txt" and stripped.startswith("#")):
            numbers.append(number)
    return numbers


def _write(path: Path, lines: list[str]) -> Path:
    # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, as a file in a broken encoding would hold
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch_files())
def test_every_line_is_accepted_or_reported_on_one_line_with_its_number(providers, tmp_path, batch):
    kind, lines = batch
    path = _write(tmp_path / f"b.{kind}", lines)
    try:
        validation = validate(path)
    except BatchFileError as exc:
        event(f"{kind}: reported")
        problems = exc.problems
        assert problems and exc.more == 0  # (at most 8 lines: all listed)
        for problem, shown in zip(problems, exc.lines()):
            assert 0 <= problem.line <= len(lines) + 1
            assert _printable_line(problem.message) and problem.message.strip() == problem.message
            assert shown.startswith(f"line {problem.line}: " if problem.line else f"{path}: ")
        if kind == "csv":
            return
        content = _content_lines(kind, lines)
        reported = [p.line for p in problems]
        if reported == [0]:  # "has no headlines": nothing to ask of any line
            assert content == []
            return
        assert len(reported) == len(set(reported)) and set(reported) <= set(content)  # one problem a line, at it
        # every line not reported is accepted: the same file without the reported lines validates in full
        kept = [line if n not in reported else "" for n, line in enumerate(lines, 1)]
        if any(n not in reported for n in content):
            event(f"{kind}: the lines not reported validate")
            assert validate(_write(tmp_path / f"kept.{kind}", kept)).total == len(content) - len(reported)
        return
    event(f"{kind}: accepted")
    if kind != "csv":
        assert validation.total == len(_content_lines(kind, lines))
    items = list(iter_items(path))  # the second pass agrees with the first
    assert len(items) == validation.total and all(1 <= item.line <= len(lines) + 1 for item in items)


def test_a_hostile_file_is_reported_line_by_line_by_the_cli(providers, tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(
        b'{"headline": "Fine Story"}\n'
        b'{"headline": "Latin-1 caf\xe9"}\n'  # 2: not UTF-8
        b'{"headline": "Lone \\udc80 surrogate"}\n'  # 3
        b'{"headline": "Bell \\u0007 rings"}\n'  # 4: a control character in the headline
        b'{"headline": "Deep", "params": {"voice": ' + b"[" * 50 + b"]" * 50 + b"}}\n"  # 5
        b'{"seed": 1' + b"0" * 5000 + b"}\n"  # 6: an integer Python will not convert
        b'{"headline": "x", "colour\\u202e\\u001b[31m": 1}\n'  # 7: an unknown key of bidi and escape codes
        b'{"headline": "x", "name": "a\\nb"}\n'  # 8
        b"{not json\n"  # 9
    )
    result = CliRunner().invoke(app, ["batch", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    reported = [line.strip() for line in result.output.splitlines() if line.strip().startswith("line ")]
    assert [line.split(":")[0] for line in reported] == [f"line {n}" for n in range(2, 10)]
    by_line = dict(line.split(": ", 1) for line in reported)
    assert by_line["line 2"].startswith("not UTF-8 text (byte 0xE9 at character 26")
    assert by_line["line 3"] == "has a lone surrogate (\\udc80), which is not text"
    assert "control characters" in by_line["line 4"]
    assert "nested more than 32 levels deep" in by_line["line 5"]
    assert "4300 digits" in by_line["line 6"]
    assert by_line["line 7"].startswith("unknown column 'colour\\u202e\\x1b[31m'")
    assert by_line["line 8"].startswith("output name 'a\\nb' is not a plain folder name")
    assert by_line["line 9"].startswith("not JSON (Expecting property name")
    assert work_done(providers) == [] and not (tmp_path / "out").exists()
