"""The presenter stage's contract: its place in the graph, the artifact's kinds, the timeline's rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.stages import STAGES
from pipeline.stages.presenter import Box, Presenter, Sprites, SpriteLayer, Timeline


def timeline(n: int = 3, **change) -> Timeline:
    motion = {k: [0.0] * n for k in ("head_dx", "head_dy", "head_angle", "body_dx", "body_dy")}
    tracks = {"mouth": "XAD"[:n], "eyes": "ohc"[:n], **motion}
    return Timeline(**{**tracks, **change})


def sprites(tmp_path) -> Sprites:
    layer = SpriteLayer(path=tmp_path / "head.png", x=1, y=2)
    return Sprites(heads={s: layer for s in "ABCDEFGHX"}, pivot=(5.0, 9.0))


def test_the_stage_sits_between_voice_and_compose_and_compose_takes_it():
    stage = STAGES["presenter"]
    from pipeline.config import ProviderChoice

    assert stage.inputs == ("script", "voice") and ProviderChoice().presenter == "anchor"  # the drawn anchor by default
    order = list(STAGES)
    assert order.index("voice") < order.index("presenter") < order.index("compose")
    assert STAGES["compose"].inputs[-1] == "presenter"  # compose draws it


def test_no_presenter_is_a_small_artifact_with_nothing_to_export():
    nobody = Presenter.nobody(fps=30, duration=12.5)
    assert nobody.kind == "none" and nobody.sprites is None and nobody.exports() == {} and list(nobody.files()) == []


def test_a_timeline_needs_one_value_per_frame_on_every_track():
    assert timeline().frames == 3
    with pytest.raises(ValidationError, match="every track needs 3 frames"):
        timeline(head_dx=[0.0])
    with pytest.raises(ValidationError, match="mouth letters"):
        timeline(mouth="XQZ")
    with pytest.raises(ValidationError, match="eye letters"):
        timeline(eyes="o-o")


def test_poses_past_either_end_hold_the_nearest_frame():
    t = timeline(head_dy=[1.0, 2.0, 3.0])
    assert t.pose(-5).mouth == "X" and t.pose(1).mouth == "A" and t.pose(99).head_dy == 3.0


def test_sprites_need_every_mouth_shape(tmp_path):
    layer = SpriteLayer(path=tmp_path / "a.png", x=0, y=0)
    with pytest.raises(ValidationError, match="exactly the mouth shapes"):
        Sprites(heads={"A": layer}, pivot=(0, 0))


def test_each_kind_has_its_parts_and_paths_are_stored_relative(tmp_path):
    with pytest.raises(ValidationError, match="needs sprites and a timeline"):
        Presenter(kind="sprites", fps=30, duration=1, width=10, height=10, box=Box(x=0, y=0, width=10, height=10))
    with pytest.raises(ValidationError, match="needs its video"):
        Presenter(kind="video", fps=30, duration=1, width=10, height=10, box=Box(x=0, y=0, width=10, height=10))
    with pytest.raises(ValidationError, match="canvas size and box"):
        Presenter(kind="sprites", fps=30, duration=1, sprites=sprites(tmp_path), timeline=timeline())
    box = Box(x=0, y=0, width=64, height=64)
    video = Presenter(kind="video", fps=25, duration=1, width=64, height=64, box=box, video=tmp_path / "p.webm")
    assert video.to_json(tmp_path)["video"] == "p.webm"
    drawn = Presenter(kind="sprites", fps=30, duration=0.1, width=10, height=10, box=Box(x=0, y=0, width=10, height=10),
                      sprites=sprites(tmp_path), timeline=timeline())  # fmt: skip
    stored = drawn.to_json(tmp_path)
    assert stored["sprites"]["heads"]["A"]["path"] == "head.png"
    assert Presenter.from_json(stored, tmp_path / "moved").sprites.heads["D"].path == tmp_path / "moved" / "head.png"
