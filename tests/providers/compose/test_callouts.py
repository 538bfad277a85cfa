"""Callout shots: the card's content comes from the sentence, the shot rules hold for any script, the cards and the
captions keep off the presenter's face at every frame shape, and a user's style draws (or breaks) them by its own
template. The pixel check on a real espeak render is in test_presenter_compose.py (its module fixture)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pysubs2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import NewsreelError
from pipeline.providers.compose import _graphics, _presenter, _shots
from pipeline.providers.compose._styles import STYLES_DIR
from pipeline.stages import Narration, WordTiming
from tests.providers.compose.inputs import make_inputs

FPS = 10


@pytest.mark.parametrize("sentence, text, kind, label", [
    ("The city will spend $40 million on new bridges by March 3.", "$40 million", "money", "on new bridges"),
    ("Turnout rose to 71% of voters, officials said.", "71%", "percent", "of voters"),
    ("Rescuers reached the village on March 3 after the storm.", "March 3", "date", "after the storm"),
    ("Senator Maria Lopez voted against the plan.", "Maria Lopez", "name", "voted against the plan"),
    ("About 1,200 homes lost power overnight.", "1,200", "number", "homes lost power overnight"),
])
def test_a_sentence_offers_its_figure_or_name_with_its_own_words(sentence, text, kind, label):
    callout = _shots.callout_for(sentence, 4)
    assert callout == _shots.Callout(text=text, label=label, kind=kind, sentence=4)
    assert text in sentence and label in sentence


def test_a_figure_wins_over_a_name_and_plain_sentences_offer_nothing():
    assert _shots.callout_for("Mayor Jane Smith said 71% of voters agreed.", 0).text == "71%"
    assert _shots.callout_for("It rained all day and the roads were closed.", 0) is None
    # months and weekdays alone say too little for a card
    assert _shots.callout_for("The vote is expected on Tuesday.", 0) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["The", "city", "spent", "$40", "million,", "on", "roads", "71%", "Ana", "Silva",
                                 "said", "March", "3", "\u201cwe", "won\u201d", "at", "9:30", "pm.", "\u00a0", "the"]),
                max_size=16).map(" ".join) | st.text(max_size=80))
def test_any_sentence_gives_a_card_made_of_its_own_words_or_none(sentence):
    import unicodedata

    callout = _shots.callout_for(sentence, 0)
    if callout is not None:
        said = unicodedata.normalize("NFKC", sentence)
        assert callout.text and callout.text in said and callout.kind in _shots.CALLOUT_KINDS
        assert all(word in said for word in callout.label.split())
        assert len(callout.label.split()) <= _shots.LABEL_WORDS


def narration(sentences: list[str], gaps: list[float]) -> Narration:
    words, t = [], 0.1
    for i, (sentence, gap) in enumerate(zip(sentences, gaps)):
        for word in sentence.split():
            words.append(WordTiming(word=word, start=round(t, 3), end=round(t + 0.3, 3), sentence=i))
            t += 0.35
        t += gap
    return Narration(path=__file__, duration=round(t + 0.2, 3), sample_rate=22050, words=words, voice="x")


PLAIN = ["The bridge opened this morning.", "Crowds gathered along the river.", "It rained all afternoon.",
         "Traffic moved slowly downtown.", "Nobody was hurt."]
WITH_ITEMS = ["The project cost $40 million in total.", "Turnout reached 71% this year.",
              "Work began on March 3 last spring.", "Engineer Ana Silva led the team.", "About 1,200 people came."]


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PLAIN + WITH_ITEMS), st.sampled_from([0.0, 0.2, 0.7])),
                min_size=1, max_size=14),
       st.integers(0, 40))
def test_no_shot_repeats_more_than_twice_in_any_script(script, intro):
    sentences, gaps = [s for s, _ in script], [g for _, g in script]
    voice = narration(sentences, gaps)
    context = " ".join(sentences)
    offers = {i: c for i, s in enumerate(sentences) if (c := _shots.callout_for(s, i, context)) is not None}
    last = intro + round(voice.duration * FPS)
    shots = _shots.shot_list(voice, intro, last, FPS, callouts=offers)
    kinds = [s.kind for s in shots]
    assert all(not (a == b == c) for a, b, c in zip(kinds, kinds[1:], kinds[2:])), kinds
    assert kinds[0] == _shots.ANCHOR  # the newscast opens on the anchor (and a one-sentence one stays on it)
    assert shots[0].start == intro and shots[-1].end == last and all(a.end == b.start for a, b in zip(shots, shots[1:]))
    assert sorted(i for s in shots for i in s.sentences) == list(range(len(sentences)))
    for shot in shots:
        assert (shot.kind == _shots.CALLOUT) == (shot.callout is not None)
        if shot.callout is not None:  # the card says what one of the shot's own sentences says
            assert shot.callout.sentence in shot.sentences
            assert shot.callout.text in sentences[shot.callout.sentence]
    # a shot whose sentence offers a callout is one unless it opens the video or follows a callout
    for k, shot in enumerate(shots[1:], start=1):
        if any(i in offers for i in shot.sentences) and shots[k - 1].kind != _shots.CALLOUT:
            assert shot.kind == _shots.CALLOUT


def test_card_times_land_on_the_shots_frames():
    # A frame n shows at n / fps; an event shows while start <= t < end: floored to the centisecond, a card's
    # times put it on exactly its shot's frames.
    for fps in (10, 24, 25, 30, 50, 60):
        for n in range(1, 400):
            h, m, s = _graphics._floor_time(n / fps).split(":")
            seconds = int(h) * 3600 + int(m) * 60 + float(s)
            assert (n - 1) / fps < seconds <= n / fps + 1e-9, (fps, n)


# ---------------------------------------------------------------------------------------------------------------
# Real renders at each frame shape: tiny frames, a sine narration, the drawn anchor.

SENTENCES = ["Officials opened the new bridge.", "The city spent $40 million on repairs.", "Crowds walked across it."]
SIZES = [(320, 180), (180, 320), (240, 240)]


@pytest.fixture(scope="module")
def presenter_of(tmp_path_factory):
    from pipeline.providers.presenter.anchor import AnchorPresenter

    root = tmp_path_factory.mktemp("callout_presenter")
    made = {}

    def make(script, voice):
        key = voice.duration
        if key not in made:
            work = root / f"p{len(made)}"
            work.mkdir()
            made[key] = AnchorPresenter({"look": "mei"}, models_dir=root / "models").run(
                script=script, voice=voice, workdir=work, progress=lambda f, m: None)
        return made[key]

    return make


def render(tmp: Path, size: tuple[int, int], presenter_of, style: str = "news"):
    from pipeline.media import run_ffmpeg
    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    width, height = size
    script, image, voice, captions = make_inputs(tmp / "in", 3.6, width=width, height=height, sentences=SENTENCES)
    (tmp / "c").mkdir()
    video = FfmpegCompose({"width": width, "height": height, "fps": FPS, "style": style}).run(
        script=script, image=image, voice=voice, captions=captions, presenter=presenter_of(script, voice),
        workdir=tmp / "c", progress=lambda f, m: None)
    raw = tmp / "frames.rgb"
    run_ffmpeg(["-y", "-i", os.fspath(video.path), "-f", "rawvideo", "-pix_fmt", "rgb24", os.fspath(raw)])
    return video, np.fromfile(raw, np.uint8).reshape(-1, height, width, 3)


def overlaps(a: list[int], b: list[int]) -> bool:
    return not (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])


@pytest.mark.parametrize("size", SIZES, ids=["16x9", "9x16", "1x1"])
def test_the_card_and_the_captions_keep_off_the_face_at_every_shape(tmp_path, size, presenter_of):
    video, frames = render(tmp_path, size, presenter_of)
    shots = video.notes["shots"]
    assert [s["shot"] for s in shots] == ["anchor", "callout", "broll"]
    callout = shots[1]["callout"]
    assert callout["text"] == "$40 million" and callout["label"] == "on repairs" and callout["sentence"] == 1
    face = shots[1]["face_box"]
    assert not overlaps(callout["box"], face)
    for name, box in video.notes["presenter"]["graphics"].items():
        assert not overlaps(box, face), name
    fx, fy, fw, fh = face
    on = np.zeros(len(frames), bool)  # the frames showing the anchor: its own shots and the callouts
    for shot in shots[:2]:
        on[round(shot["start"] * FPS):round(shot["end"] * FPS)] = True
    # Caption and card text is white; the drawn anchor's face never is: no white lands on the face box.
    faces = frames[on][:, fy:fy + fh, fx:fx + fw].min(axis=3)
    assert (faces > 245).mean() < 0.005
    # The card shows on the callout's frames only, filling its box with its navy (mostly: the figure is on it).
    x, y, w, h = callout["box"]
    navy = np.array([14, 26, 42])
    card = lambda frame: (np.abs(frame[y:y + h, x:x + w].astype(int) - navy).max(axis=2) < 24).mean()
    start, end = round(shots[1]["start"] * FPS), round(shots[1]["end"] * FPS)
    assert min(card(f) for f in frames[start:end]) > 0.5
    assert max(card(f) for f in frames[:start]) < 0.05 and max(card(f) for f in frames[end:]) < 0.05
    # The figure is drawn in the card: white in its upper part, the label's grey below.
    figure = frames[start + 1][y:y + h, x:x + w].min(axis=2) > 230
    assert figure.mean() > 0.02


def test_a_style_without_a_callout_template_draws_the_shipped_card_and_a_broken_one_names_its_line(tmp_path):
    script, image, voice, captions = make_inputs(tmp_path / "in", 3.0, width=320, height=180, sentences=SENTENCES)
    cards = [{"start": 1.0, "end": 2.0, "text": "$40 million", "label": "on repairs", "kind": "money",
              "box": [16, 24, 140, 80]}]

    def burn(style: Path):
        out = tmp_path / "burn.ass"
        _graphics.write_burn_ass(captions.ass, out, title="T", label="AI-GENERATED", duration=3.0, width=320,
                                 height=180, style=os.fspath(style), callouts=cards)
        return pysubs2.load(os.fspath(out))

    old = tmp_path / "old"  # a copy made before callouts existed
    shutil.copytree(STYLES_DIR / "news", old)
    (old / "callout.ass.j2").unlink()
    drawn = [e for e in burn(old).events if e.name == "callout"]
    assert any(e.plaintext == "$40 million" for e in drawn) and any(e.plaintext == "on repairs" for e in drawn)
    assert all(e.start == 1000 and e.end == 2000 and e.layer >= _graphics.GRAPHICS_LAYER for e in drawn)

    mine = tmp_path / "mine"
    shutil.copytree(STYLES_DIR / "news", mine)
    template = mine / "callout.ass.j2"
    template.write_text(template.read_text().replace('"card": "2A1A0E"', '"card": "00FF00"'))
    assert any("&H00FF00&" in e.text for e in burn(mine).events if e.name == "callout")
    template.write_text(template.read_text().replace("{{ k.figure.lines[0] }}", "{{ k.figure.colour }}"))
    with pytest.raises(NewsreelError) as err:
        burn(mine)
    assert re.search(r"mine/callout\.ass\.j2:\d+", err.value.message), err.value.message


def test_captions_beside_the_anchor_stay_under_the_card(tmp_path):
    """A long caption narrowed beside the face would wrap up into the card: it is drawn smaller instead. Checked on
    libass's own drawing of the burned file (one frame over black)."""
    from pipeline.media import run_ffmpeg

    width, height, face, card = 1280, 720, [760, 90, 330, 300], [50, 100, 588, 330]
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    style = subs.styles["Default"]
    style.fontname, style.fontsize, style.bold, style.outline, style.shadow = "DejaVu Sans", 46, True, 3, 0
    style.alignment, style.marginv = pysubs2.Alignment.BOTTOM_CENTER, 20
    long = "Thousands of people walked across the new bridge on its first day\\Nwaving flags and cheering loudly"
    subs.events.append(pysubs2.SSAEvent(start=0, end=3000, text=long))
    captions = tmp_path / "captions.ass"
    subs.save(os.fspath(captions))

    def caption_rows(keep_under):
        out = tmp_path / "burn.ass"
        _graphics.write_burn_ass(captions, out, title="T", label="AI-GENERATED", duration=3.0, width=width,
                                 height=height, keep_clear=face, clear_when=[(0.0, 3.0)], keep_under=keep_under)
        png = tmp_path / "frame.png"
        run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=black:s={width}x{height}:d=1", "-vf",
                    f"ass={out.name}", "-frames:v", "1", os.fspath(png)], cwd=tmp_path)
        from PIL import Image

        frame = np.asarray(Image.open(png).convert("L"))
        label_bottom = 36 + 60  # the AI-GENERATED label's box, top left
        white = frame[label_bottom:, :face[0]] > 200
        white[-(height - 560):] = False  # the lower third's title
        rows = np.nonzero(white.sum(axis=1) > 3)[0] + label_bottom
        assert rows.size  # the caption is there
        return rows.min()

    assert caption_rows(None) < card[1] + card[3]  # unshrunk, its wrapped lines reach into the card's box
    assert caption_rows(card[1] + card[3]) >= card[1] + card[3]
