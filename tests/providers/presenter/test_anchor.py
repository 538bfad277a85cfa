"""Presenter provider `anchor`: the drawn sprites, the artifact, the models-folder cache, a run through the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pipeline import make_video
from pipeline.errors import NewsreelError
from pipeline.providers.presenter import _render
from pipeline.providers.presenter._looks import LOOKS
from pipeline.providers.presenter.anchor import AnchorPresenter
from pipeline.stages.presenter import MOUTH_SHAPES, Presenter
from tests.helpers import TEST_PROVIDERS
from tests.providers.presenter.inputs import minute, narration

SIZE = 240  # small canvases keep drawing fast; the drawing is resolution-independent


@pytest.fixture(scope="module")
def drawn():
    return {name: _render.render(look, SIZE) for name, look in LOOKS.items()}


def test_there_are_several_looks_that_differ(drawn):
    assert len(drawn) >= 4
    pictures = {name: _render.composite(r).astype(np.int16) for name, r in drawn.items()}
    names = list(pictures)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(pictures[a] - pictures[b]).mean() > 4, (a, b)


def test_sprites_have_alpha_and_fit_the_canvas(drawn):
    for name, r in drawn.items():
        for layer, im in r.layers.items():
            h, w = im.rgba.shape[:2]
            assert 0 <= im.x and 0 <= im.y and im.x + w <= SIZE and im.y + h <= SIZE, (name, layer)
        whole = _render.composite(r)
        alpha = whole[..., 3]
        assert (alpha == 0).mean() > 0.2 and (alpha == 255).mean() > 0.3  # a cut-out, not a rectangle
        x, y, w, h = r.box
        assert w > SIZE * 0.5 and h > SIZE * 0.5 and alpha[y : y + h, x : x + w].any()
        seen = alpha > 8
        assert not seen[:y].any() and not seen[:, :x].any() and not seen[y + h :].any() and not seen[:, x + w :].any()


def test_every_mouth_shape_looks_different_in_the_mouth_box(drawn):
    for name, r in drawn.items():
        x, y, w, h = r.mouth_box
        mouths = {s: _render.composite(r, s)[y : y + h, x : x + w, :3].astype(np.int16) for s in MOUTH_SHAPES}
        outside = {s: _render.composite(r, s).astype(np.int16) for s in "XD"}
        outside["X"][y : y + h, x : x + w] = outside["D"][y : y + h, x : x + w] = 0
        assert np.abs(outside["X"] - outside["D"]).max() <= 2, name  # only the mouth changes
        for i, a in enumerate(MOUTH_SHAPES):
            for b in MOUTH_SHAPES[i + 1 :]:
                if {a, b} == {"A", "X"}:
                    assert np.abs(mouths[a] - mouths[b]).mean() > 0.3, name  # pressed vs relaxed: subtle
                else:
                    assert np.abs(mouths[a] - mouths[b]).mean() > 1.5, (name, a, b)
        # The wide-open mouth shows a dark inside; the closed one does not.
        def inside(pixels):  # the near-black red of an open mouth, darker than any lips or skin
            return (pixels.sum(axis=-1) < 100).sum()

        assert inside(mouths["D"]) >= 6 and inside(mouths["A"]) == inside(mouths["X"]) == 0, name


def test_eyelids_cover_the_eyes(drawn):
    r = drawn["daniel"]
    open_, half, shut = (_render.composite(r, "X", e).astype(np.int16) for e in "ohc")
    changed = np.argwhere(np.abs(shut - open_).max(axis=-1) > 40)
    ys, xs = changed[:, 0] / SIZE, changed[:, 1] / SIZE
    assert 0.28 < ys.mean() < 0.36 and 0.40 < xs.min() and xs.max() < 0.60  # around the eyes, nowhere else
    assert 0 < (np.abs(half - open_).max(axis=-1) > 40).sum() < len(changed)


def test_an_unknown_look_lists_the_looks():
    with pytest.raises(NewsreelError) as caught:
        AnchorPresenter({"look": "zelda"})
    assert "zelda" in caught.value.message and all(name in caught.value.hint for name in LOOKS)
    assert AnchorPresenter({"seed": 1}).look_name() == list(LOOKS)[1]  # auto: by the seed


def test_a_minute_of_narration(tmp_path, monkeypatch):
    script, voice = minute(tmp_path)
    provider = AnchorPresenter({"look": "mei", "size": SIZE, "fps": 25, "seed": 5}, models_dir=tmp_path / "models")
    work = tmp_path / "work"
    work.mkdir()
    presenter = provider.run(script=script, voice=voice, workdir=work, progress=lambda f, m: None)
    assert presenter.kind == "sprites" and presenter.look == "mei" and presenter.fps == 25
    timeline = presenter.timeline
    assert timeline.frames == int(np.ceil(voice.duration * 25))
    assert timeline.mouth[0] == "X" and timeline.mouth[-1] == "X"
    assert len(set(timeline.mouth)) >= 7  # a minute of English uses nearly every shape
    assert 8 <= presenter.notes["blinks"] <= 32
    assert not voice.phonemes and presenter.notes["phoneme_source"] == "estimated"  # espeak times no phonemes
    for layer in presenter.sprites.heads.values():
        assert Image.open(layer.path).mode == "RGBA" and layer.path.parent == work / "sprites"
    assert presenter.notes["box"] == presenter.box.as_list()
    assert presenter.notes["mouth_box"] == presenter.mouth_box.as_list()
    stored = Presenter.from_json(json.loads(json.dumps(presenter.to_json(work))), work)
    assert stored == presenter

    # A second run draws nothing: the look's sprites come from the models folder.
    def no_drawing(*args):
        raise AssertionError("drew the look again")

    monkeypatch.setattr(_render, "render", no_drawing)
    again_dir = tmp_path / "again"
    again_dir.mkdir()
    again = provider.run(script=script, voice=voice, workdir=again_dir, progress=lambda f, m: None)
    assert again.timeline == timeline
    assert (again_dir / "sprites" / "head-D.png").read_bytes() == (work / "sprites" / "head-D.png").read_bytes()

    # A damaged models folder (a picture gone) is drawn again, not trusted.
    monkeypatch.undo()
    next(iter((tmp_path / "models" / "presenter").glob("anchor-*"))).joinpath("head-D.png").unlink()
    third = tmp_path / "third"
    third.mkdir()
    provider.run(script=script, voice=voice, workdir=third, progress=lambda f, m: None)
    assert (third / "sprites" / "head-D.png").read_bytes() == (work / "sprites" / "head-D.png").read_bytes()


def test_make_with_the_anchor_records_it_in_run_json(test_plugin, isolated_config, tmp_path):
    params = {"presenter": {"look": "kwame", "size": SIZE}}
    result = make_video("Breakthrough in Mars Project", out=tmp_path / "run", presenter="anchor", params=params,
                        providers={k: v for k, v in TEST_PROVIDERS.items() if k != "presenter"})  # fmt: skip
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    stage = record["stages"]["presenter"]
    assert stage["provider"] == "anchor" and stage["params"]["look"] == "kwame" and stage["hit"] is False
    presenter = result.artifacts["presenter"]
    assert stage["notes"]["look"] == "kwame"
    assert stage["notes"]["box"] == presenter.box.as_list()
    assert stage["notes"]["mouth_box"] == presenter.mouth_box.as_list()
    x, y, w, h = stage["notes"]["mouth_box"]
    bx, by, bw, bh = stage["notes"]["box"]
    assert bx <= x and x + w <= bx + bw and by <= y and y + h <= by + bh
    assert presenter.timeline.frames == int(np.ceil(result.artifacts["voice"].duration * 30))
    assert list(record["stages"]) == ["script", "image", "voice", "captions", "presenter", "compose"]
    again = make_video("Breakthrough in Mars Project", out=tmp_path / "again", presenter="anchor", params=params,
                       providers={k: v for k, v in TEST_PROVIDERS.items() if k != "presenter"})  # fmt: skip
    assert again.record["stages"]["presenter"]["hit"] is True
    with pytest.raises(NewsreelError, match="given twice"):
        make_video("Mars", out=tmp_path / "x", presenter="anchor", providers={**TEST_PROVIDERS})


def test_words_not_spoken_as_english_still_move_the_mouth(tmp_path):
    script, voice = narration(tmp_path, ["Der Mann fährt über die Brücke."], language="de")
    work = tmp_path / "work"
    work.mkdir()
    presenter = AnchorPresenter({"size": SIZE}, models_dir=tmp_path / "models").run(
        script=script, voice=voice, workdir=work, progress=lambda f, m: None
    )
    assert presenter.notes["phonemes"] == "de"
    # "über", "Brücke": rounded lips (puckered F, or E with the jaw open); nothing else in the sentence rounds them.
    assert set("EF") & set(presenter.timeline.mouth)
    said = [p for _, _, p in presenter.notes["phoneme_times"]]
    assert any("y" in p for p in said)  # ü, in German IPA
