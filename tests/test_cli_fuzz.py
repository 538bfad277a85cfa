"""The command line under fuzzed and hostile input, run in-process through `pipeline.cli.main()` (the real entry point,
argv and all) with the test plugin's fast providers.

Whatever the headline, `--set` or `--provider` text: `newsreel` exits 0 or 2; an error is exactly one line on stderr,
never a traceback, and leaves nothing in the output folder or in the cache's tmp/ folder. (Real subprocess runs of
the reported reproductions, and of argv bytes that are not UTF-8, are in tests/test_cli.py.)
"""

from __future__ import annotations

import errno
import itertools
import json
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from pipeline import cli
from pipeline.plugins import provider_names
from pipeline.stages import STAGES
from pipeline.stages.script import BIDI_CONTROLS
from tests.helpers import TEST_PROVIDERS, work_done

FAST = [arg for stage, name in TEST_PROVIDERS.items() for arg in ("--provider", f"{stage}={name}")]

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text rich reads as markup, and characters that break lines, terminals, encoders or reading order.
MARKUP = ["[", "]", "[/]", "[/x]", "[/b]", "[b]", "[bold red]", "[a-z]", "[link=https://x]", "\\[", "[@click]"]
TRICKY = [
    "\udcff", "\ud800", "\udfff",  # lone surrogates: undecodable argv bytes, JSON "\ud800"
    "\x00", "\x07", "\x1b[31m", "\n", "\r", "\t", "\x7f", "\x85", "\x9b",  # C0/C1 controls
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",  # bidi controls
    "\u200f", "\u200b", "\u2028", "\ufeff", "\u00a0",  # allowed oddities: marks, zero width, separators
    " ", "-", "--", "=", ".", "é", "北京", "مرحبا", "🎬",
]
fragments = st.one_of(st.sampled_from(MARKUP + TRICKY), st.text(st.characters(exclude_categories=()), max_size=6))
texts = st.lists(fragments, max_size=8).map("".join)


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def newsreel(test_plugin, isolated_config, capsys, monkeypatch):
    """Run `newsreel ARGS...` in this process; returns the exit code and what it printed."""
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["newsreel", *args])
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


_runs = itertools.count()


def fresh_out(root: Path) -> Path:
    return root / f"out{next(_runs)}"


def assert_clean(result: Outcome, out: Path, cache: Path) -> None:
    assert result.code in (0, 2), result
    assert "Traceback" not in result.err + result.out
    if result.code == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())
        assert not (cache / "tmp").exists() or not any((cache / "tmp").iterdir())


def refused_characters(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS]


@FUZZ
@given(headline=texts)
@example(headline="")
@example(headline="x" * 301)
@example(headline="[/x] [a-z] [bold]Mars[/bold]")
@example(headline="Caf\udce9 opens")
@example(headline="Bank \u202etroper\u202c")
@example(headline="--help")
def test_any_headline_runs_or_is_refused_in_one_line(newsreel, isolated_config, headline):
    out = fresh_out(isolated_config)
    result = newsreel("make", "--out", str(out), *FAST, "--", headline)
    event(f"exit {result.code}")  # --hypothesis-show-statistics: how many ran, how many were refused
    assert_clean(result, out, isolated_config / "cache")
    bad = refused_characters(headline)
    if bad:  # a control character, a lone surrogate or a bidi control is refused, naming one that is there
        assert result.code == 2 and "headline" in result.err
        assert any(f"U+{ord(ch):04X}" in result.err for ch in bad), result.err
    elif result.code == 2:
        assert "the headline" in result.err  # every other flag is valid: the refusal must be about the headline
    else:
        record = json.loads((out / "run.json").read_text())
        assert record["headline"].split() == headline.split()


stage_names = st.one_of(st.sampled_from([*STAGES, "sound", "[/x]", ""]), texts)
# Parameters the test plugin takes whose every value it handles; any other key must be refused by validation.
param_keys = st.one_of(st.sampled_from(["seed", "words", "[/b]", "[a-z]", "", "x.y"]), texts)
json_values = st.sampled_from(['1', '-1', '"x"', '[1]', '{"a": 1}', 'NaN', 'Infinity', '1e999', 'true', 'null', ''])
values = st.one_of(json_values, st.integers(-(2**40), 2**40).map(str), st.sampled_from(MARKUP), texts)
separators = st.sampled_from([(".", "="), (".", "="), ("", "="), (".", ""), ("=", ".")])
set_pairs = st.one_of(
    st.builds(lambda s, k, v, sep: f"{s}{sep[0]}{k}{sep[1]}{v}", stage_names, param_keys, values, separators),
    # near misses and hits: parameters the test plugin has, with any value
    st.builds(lambda s, k, v: f"{s}.{k}={v}", st.sampled_from(["script", "image"]), st.sampled_from(["seed", "words"]),
              values),
)


@FUZZ
@given(pairs=st.lists(set_pairs, min_size=1, max_size=2))
@example(pairs=["voice.[/b]=1"])
@example(pairs=["script.seed=[a-z]"])
@example(pairs=["script.seed=7", "image.seed=NaN"])
def test_any_set_value_runs_or_is_refused_in_one_line(newsreel, isolated_config, pairs):
    out = fresh_out(isolated_config)
    flags = [arg for pair in pairs for arg in ("--set", pair)]
    result = newsreel("make", "Fuzzed parameters", "--out", str(out), *FAST, *flags)
    event(f"exit {result.code}")  # --hypothesis-show-statistics: how many ran, how many were refused
    assert_clean(result, out, isolated_config / "cache")
    if result.code == 0:
        assert json.loads((out / "run.json").read_text())["headline"] == "Fuzzed parameters"


@pytest.fixture(scope="module")
def builtin_only_names() -> set[str]:
    """Names of real providers (they would do slow real work: loading a model, drawing a backdrop)."""
    return {name for stage in STAGES for name in provider_names(stage)} - set(TEST_PROVIDERS.values())


provider_names_ = st.one_of(st.sampled_from([*TEST_PROVIDERS.values(), "[/x]", "[a-z]", "nope", ""]), texts)
provider_values = st.one_of(
    st.builds(lambda s, sep, n: f"{s}{sep}{n}", stage_names, st.sampled_from(["=", "=", ":", ""]), provider_names_),
    st.builds(lambda s, n: f"{s}={n}", st.sampled_from(list(STAGES)), provider_names_),
    st.sampled_from([f"{stage}={name}" for stage, name in TEST_PROVIDERS.items()]),
)


@FUZZ
@given(value=provider_values)
@example(value="voice=[/x]")
@example(value="voice=beep")
def test_any_provider_value_runs_or_is_refused_in_one_line(newsreel, isolated_config, builtin_only_names, value):
    stage, sep, name = (part.strip() for part in value.partition("="))
    if name in builtin_only_names:
        return  # a real provider: not what this fuzzes, and too slow
    out = fresh_out(isolated_config)
    result = newsreel("make", "Fuzzed providers", "--out", str(out), *FAST, "--provider", value)
    event(f"exit {result.code}")  # --hypothesis-show-statistics: how many ran, how many were refused
    assert_clean(result, out, isolated_config / "cache")
    if result.code == 2 and stage in STAGES and name.isprintable() and name:
        assert f"'{name}'" in result.err  # the name as typed: markup such as [/x] is neither eaten nor fatal
    if result.code == 0:
        assert json.loads((out / "run.json").read_text())["stages"][stage]["provider"] == name


@pytest.mark.parametrize(
    "args, needles",
    [
        (["make", "bell\x07"], ["control characters (U+0007"]),
        (["make", "isolated \u2066x\u2069"], ["bidi control U+2066 (LEFT-TO-RIGHT ISOLATE)"]),
        (["make", "Hello", "--seed"], ["'--seed' requires an argument", "see newsreel make --help"]),
        (["make"], ["newsreel make needs its HEADLINE", "see newsreel make --help"]),
        (["nosuch"], ["no such command 'nosuch'", "see newsreel --help"]),
        (["make", "Hello", "--sed", "1"], ["no option --sed", "did you mean", "--seed"]),
        (["serve", "--port", "99999"], ["--port: '99999' should be less than or equal to 65535"]),
        (["make", "ok", "--provider", "voice=[a-z]"], ["unknown voice provider '[a-z]'"]),
        (["make", "ok", "--provider", "[bold]voice=x"], ["unknown stage '[bold]voice'"]),
        (["make", "ok", "--set", "voice.pitch=NaN", *FAST], ["params.voice.pitch is not a finite number"]),
        (["make", "ok", "--set", "voice.pitch=1e999", *FAST], ["params.voice.pitch is not a finite number"]),
        (["make", "ok", "--strength", "nan"], ["strength is not a finite number"]),
        (["make", "ok", "--voice", "b\udce9ep"], ["option voice is not valid Unicode"]),
        (["make", "ok", "--provider", "voice=\x1b[31mred"], ["provider '\\x1b[31mred'"]),  # escaped, not a colour
    ],
)
def test_refusals_name_the_problem_in_one_line(newsreel, isolated_config, test_plugin, args, needles):
    result = newsreel(*args)
    assert_clean(result, isolated_config / "no-out", isolated_config / "cache")
    assert result.code == 2
    for needle in needles:
        assert needle in result.err, result.err
    assert work_done(test_plugin) == []


def test_a_full_disk_is_one_line_not_a_traceback(newsreel, isolated_config, monkeypatch):
    from pipeline import runner

    def full(out, files):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "video.mp4"))

    monkeypatch.setattr(runner, "_export", full)
    out = fresh_out(isolated_config)
    result = newsreel("make", "Disk full", "--out", str(out), *FAST)
    assert_clean(result, out, isolated_config / "cache")
    assert result.code == 2
    # The runner names the full place (the run folder is assembled beside --out) and what to do about it.
    assert f"the output folder {out.parent} is full" in result.err and "choose --out on a disk with room" in result.err


def test_a_provider_bug_still_shows_its_traceback(newsreel, isolated_config):
    # A bug is not the user's to fix: main() lets it through (the test plugin's echo raises on this headline).
    with pytest.raises(RuntimeError, match="boom inside a provider"):
        newsreel("make", "explode", "--out", str(fresh_out(isolated_config)), *FAST)
    tmp = isolated_config / "cache" / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


@pytest.mark.parametrize("value", ["9" * 5000, "nan", "-Infinity", "1e999"])
def test_numbers_python_or_json_cannot_hold_are_refused_in_one_line(newsreel, isolated_config, value):
    # A 5000-digit number is past Python's int-to-text limit (json.loads raises ValueError, not JSONDecodeError);
    # NaN and infinity would poison cache keys. Both reach a provider parameter only as a refusal.
    out = fresh_out(isolated_config)
    result = newsreel("make", "Numbers", "--out", str(out), *FAST, "--set", f"script.seed={value}")
    assert_clean(result, out, isolated_config / "cache")
    assert result.code == 2 and ("script provider 'echo': bad parameter seed" in result.err or "params.script.seed is not a finite number" in result.err)
