"""Presenter provider `sprites`: a user's own pictures, checked in pre-flight, lip-synced like the drawn anchor."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import NewsreelError
from pipeline.providers.presenter.sprites import SpritePresenter
from tests.helpers import TEST_PROVIDERS
from tests.providers.presenter.inputs import narration

W, H = 120, 160
MOUTH = (50, 100, 70, 120)  # where the pictures differ, x0, y0, x1, y1


def picture(shape: str, size=(W, H), mode="RGBA") -> Image.Image:
    """A grey figure on transparency; the mouth opens wider from A to D."""
    im = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else (0, 0, 0))
    draw = ImageDraw.Draw(im)
    draw.ellipse((20, 20, 100, 150), fill=(200, 170, 150, 255) if mode == "RGBA" else (200, 170, 150))
    opening = {"A": 0, "B": 2, "C": 5, "D": 9, "E": 6, "F": 4, "G": 1, "H": 5, "X": 0}[shape]
    inside = (90, 20, 30, 255) if mode == "RGBA" else (90, 20, 30)
    draw.rectangle((MOUTH[0], 110 - opening, MOUTH[2] - 1, 110 + opening), fill=inside)
    return im


def sprite_folder(root, shapes="ABCDEF", blink=True, toml='side = "left"\nscale = 0.7\nanchor = [60, 150]\n'):
    folder = root / "me"
    folder.mkdir()
    for s in shapes:
        picture(s).save(folder / f"{s}.png")
    if blink:
        lids = Image.new("RGBA", (W, H), (0, 0, 0, 0))
        ImageDraw.Draw(lids).rectangle((40, 60, 80, 66), fill=(180, 150, 130, 255))
        lids.save(folder / "blink.png")
    if toml is not None:
        (folder / "presenter.toml").write_text(toml)
    return folder


def run(folder, tmp_path, **params):
    script, voice = narration(tmp_path, ["Look at the map, you fish.", "Fine."])
    provider = SpritePresenter({"folder": str(folder), **params})
    provider.check()
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return provider.run(script=script, voice=voice, workdir=work, progress=lambda f, m: None), voice


def test_a_sprite_folder_drives_a_presenter(tmp_path):
    presenter, voice = run(sprite_folder(tmp_path), tmp_path, fps=25)
    assert presenter.kind == "sprites" and presenter.look == "me" and (presenter.width, presenter.height) == (W, H)
    assert presenter.placement.side == "left" and presenter.placement.height == 0.7
    assert presenter.sprites.pivot == (60, 150)
    assert presenter.sprites.body is None and presenter.sprites.front is None  # each picture is the whole presenter
    assert presenter.box.as_list() == [20, 20, 81, 131]
    assert presenter.mouth_box.as_list() == [MOUTH[0], 101, MOUTH[2] - MOUTH[0], 19]  # where the pictures differ
    # G, H and X were not given: Rhubarb's stand-ins (G as A, H as C, X as A).
    heads = {s: np.asarray(Image.open(layer.path)) for s, layer in presenter.sprites.heads.items()}
    for missing, stand_in in (("G", "A"), ("H", "C"), ("X", "A")):
        assert np.array_equal(heads[missing], heads[stand_in])
    assert presenter.notes["stand_ins"] == {"G": "A", "H": "C", "X": "A"}
    timeline = presenter.timeline
    assert timeline.frames == int(np.ceil(voice.duration * 25)) and {"A", "G", "F"} <= set(timeline.mouth)
    assert presenter.sprites.eyes_closed is not None


def test_without_a_blink_picture_the_eyes_stay_open(tmp_path):
    presenter, _ = run(sprite_folder(tmp_path, shapes="ABCDEFGHX", blink=False, toml=None), tmp_path)
    assert presenter.sprites.eyes_closed is None and set(presenter.timeline.eyes) == {"o"}
    assert presenter.placement.side == "right" and presenter.sprites.pivot == (W / 2, H)  # the defaults
    assert presenter.notes["stand_ins"] == {}


def test_an_rgb_picture_becomes_rgba(tmp_path):
    folder = sprite_folder(tmp_path)
    picture("C", mode="RGB").save(folder / "C.png")
    presenter, _ = run(folder, tmp_path)
    assert Image.open(presenter.sprites.heads["C"].path).mode == "RGBA"


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (lambda f: (f / "B.png").unlink(), r"no .*B\.png \(mouth shape B\)"),
        (lambda f: picture("D", size=(W, H + 2)).save(f / "D.png"), r"D\.png is 120x162, but A\.png is 120x160"),
        (lambda f: picture("E").convert("RGB").save(f / "E.png", format="JPEG"), r"E\.png is a JPEG"),
        (lambda f: (f / "F.png").write_bytes(b"not a picture"), r"cannot read .*F\.png"),
        (lambda f: picture("X", size=(10, 10)).save(f / "blink.png"), r"blink\.png is 10x10"),
        (lambda f: (f / "presenter.toml").write_text("sidee = 'left'\n"), r"presenter\.toml: bad value for sidee"),
        (lambda f: (f / "presenter.toml").write_text("side = 'top'\n"), r"presenter\.toml: bad value for side"),
        (lambda f: (f / "presenter.toml").write_text("side = \n"), r"cannot read .*presenter\.toml"),
        (lambda f: (f / "presenter.toml").write_text("anchor = [500, 10]\n"), r"anchor \[500\.0, 10\.0\] is outside"),
    ],
)
def test_a_bad_folder_is_refused_in_pre_flight_naming_the_file(tmp_path, spoil, said):
    folder = sprite_folder(tmp_path)
    spoil(folder)
    with pytest.raises(NewsreelError, match=said) as caught:
        SpritePresenter({"folder": str(folder)}).check()
    assert "\n" not in caught.value.one_line()


def test_a_missing_folder_and_the_cache_key(tmp_path):
    with pytest.raises(NewsreelError, match="does not exist"):
        SpritePresenter({"folder": str(tmp_path / "nowhere")}).check()
    a = sprite_folder(tmp_path)
    key = SpritePresenter({"folder": str(a)}).key_params()
    assert "folder" not in key and len(key["folder_sha256"]) == 64
    moved = a.rename(tmp_path / "elsewhere")
    assert SpritePresenter({"folder": str(moved)}).key_params() == key  # the pictures, not where they are
    picture("D").rotate(90).save(moved / "D.png")
    assert SpritePresenter({"folder": str(moved)}).key_params() != key


def test_the_cli_refuses_a_bad_folder_before_any_stage_runs(tmp_path, isolated_config, test_plugin):
    folder = sprite_folder(tmp_path)
    (folder / "C.png").unlink()
    flags = [a for stage, name in TEST_PROVIDERS.items() if stage != "presenter" for a in ("-p", f"{stage}={name}")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # this checkout and the plugin
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "make", "Mars", "--out", str(tmp_path / "out"), *flags,
         "--presenter", "sprites", "--set", f"presenter.folder={folder}"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "C.png" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() and not test_plugin.exists()  # no stage did any work
    assert not list((isolated_config / "cache").glob("entries/*/*"))  # nothing cached
