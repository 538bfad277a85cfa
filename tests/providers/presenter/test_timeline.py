"""The presenter's timeline: mouth shapes on the frames where the phonemes are, rest in pauses, blinks, motion."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import NewsreelError
from pipeline.providers.presenter import _timeline as T
from pipeline.stages.voice import Narration, WordTiming

PHONEMES = "m ˈa p f ɪ ʃ l ʊ k j uː ˈɑː t ˈeɪ ɔː w n s ə".split()


@st.composite
def spoken(draw):
    """Words with gaps (some shorter than a short pause, some longer) and phonemes drawn from real IPA."""
    fps = draw(st.sampled_from([24, 25, 30, 60]))
    words, phonemes, t = [], [], draw(st.floats(0.0, 1.0))
    for i in range(draw(st.integers(1, 12))):
        length = draw(st.floats(0.12, 0.8))
        words.append(WordTiming(word=f"w{i}", start=t, end=t + length, sentence=0))
        phonemes.append(draw(st.lists(st.sampled_from(PHONEMES), min_size=1, max_size=6)))
        t += length + draw(st.sampled_from([0.0, 0.05, 0.1, 0.3, 1.2]))
    return words, phonemes, t + draw(st.floats(0.0, 1.0)), fps


@settings(max_examples=60, deadline=None)
@given(spoken())
def test_mouth_shapes_change_within_a_frame_of_the_phoneme_times(case):
    words, phonemes, duration, fps = case
    cues = T.mouth_cues(words, phonemes, duration)
    # The cues cover the narration end to end, without gaps or overlaps.
    assert cues[0].start == 0.0 and cues[-1].end == pytest.approx(duration)
    assert all(a.end == pytest.approx(b.start) and a.shape != b.shape for a, b in zip(cues, cues[1:]))
    frames = T.frame_count(duration, fps)
    track = T.mouth_track(cues, fps, frames)
    assert len(track) == frames == math.ceil(duration * fps - 1e-9)
    for k, cue in enumerate(cues):
        if cue.end - cue.start < 3 / fps:
            continue
        inside = [i for i in range(frames) if cue.start + 1 / fps <= (i + 0.5) / fps <= cue.end - 1 / fps]
        assert {track[i] for i in inside} <= {cue.shape}, (k, cue)
        # It shows from its start, give or take a frame.
        first = math.floor(cue.start * fps)
        window = track[max(0, first - 1) : first + 2]
        assert cue.shape in window, (k, cue, window)
    # Every change of shape is within a frame of a cue's start: no in-between frames off the phoneme times.
    starts = [c.start for c in cues]
    for i in range(1, frames):
        if track[i] != track[i - 1]:
            assert min(abs(i / fps - t) for t in starts) <= 1 / fps + 1e-9, (i, track[i - 1 : i + 1])


def test_pauses_rest_and_short_gaps_hold_a_relaxed_mouth():
    words = [
        WordTiming(word="map", start=0.5, end=0.9, sentence=0),
        WordTiming(word="map", start=0.98, end=1.4, sentence=0),  # 80 ms gap: held
        WordTiming(word="map", start=3.0, end=3.4, sentence=1),  # 1.6 s pause: rest
    ]
    ph = [["m", "ˈa", "p"]] * 3
    cues = T.mouth_cues(words, ph, 4.0)
    at = {round(c.start, 2): c.shape for c in cues}
    assert at[0.0] == "X" and cues[-1].shape == "X"
    assert not any(c.shape == "X" and 0.9 <= c.start < 0.98 for c in cues)
    assert any(c.shape == "X" and c.start == pytest.approx(1.4) and c.end == pytest.approx(3.0) for c in cues)
    track = T.mouth_track(cues, 30, 120)
    assert set(track[50:88]) == {"X"} and set(track[:14]) == {"X"} and track[-1] == "X"


def test_a_lip_closure_shorter_than_a_frame_still_shows():
    cues = [T.Cue(0, 0.5, "D"), T.Cue(0.5, 0.52, "A"), T.Cue(0.52, 1.0, "D")]
    assert "A" in T.mouth_track(cues, 30, 30)


def test_the_voice_s_own_phoneme_times_are_where_the_mouth_changes():
    """Given the voice's timed phonemes, the timeline uses them as they are (no estimate): each phoneme whose
    shape differs from the one before changes the mouth on its own frame."""
    fps = 30
    words = [WordTiming(word="map", start=0.2, end=0.62, sentence=0), WordTiming(word="fish", start=0.9, end=1.4, sentence=0)]
    said = [(0.2, 0.3, "m"), (0.3, 0.5, "a"), (0.5, 0.62, "p"), (0.9, 1.0, "f"), (1.0, 1.2, "ɪ"), (1.2, 1.4, "ʃ")]
    _, cues, timed = T.timeline(words, [["m", "ˈa", "p"], ["f", "ɪ", "ʃ"]], 1.6, fps, 1, 1.0, voice_phonemes=said)
    assert [(s.start, s.end, s.phoneme) for s in timed] == said
    starts = [c.start for c in cues]
    edges = sorted({t for a, b, _ in said for t in (a, b)})
    assert set(starts[1:]) <= set(edges) and len(starts) >= 6, (starts, edges)  # shapes change only there, often
    track = T.mouth_track(cues, fps, T.frame_count(1.6, fps))
    changes = [i / fps for i in range(1, len(track)) if track[i] != track[i - 1]]
    assert changes and all(min(abs(c - t) for t in edges) <= 1 / fps + 1e-9 for c in changes), (changes, edges)
    # The same words estimated by the presenter itself change elsewhere: the voice's times were used.
    _, own, _ = T.timeline(words, [["m", "ˈa", "p"], ["f", "ɪ", "ʃ"]], 1.6, fps, 1, 1.0)
    assert [c.start for c in own] != starts


def test_the_mouth_changes_on_the_frame_of_the_phoneme_without_in_betweens():
    cues = [T.Cue(0, 0.5, "D"), T.Cue(0.5, 1.0, "A")]
    assert T.mouth_track(cues, 30, 30) == "D" * 15 + "A" * 15
    assert T.mouth_track([T.Cue(0, 0.5, "A"), T.Cue(0.5, 1.0, "D")], 30, 30) == "A" * 15 + "D" * 15


def write_wav(path, rate: int, pieces: list[tuple[float, float]]) -> None:
    """A mono 16-bit WAV of (seconds, amplitude) pieces of a 220 Hz tone (amplitude 0: silence)."""
    import wave

    import numpy as np

    samples = np.concatenate([a * np.sin(2 * np.pi * 220 * np.arange(round(s * rate)) / rate) for s, a in pieces])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())


def test_loudness_is_per_frame_window(tmp_path):
    write_wav(tmp_path / "n.wav", 16000, [(0.5, 0.0), (0.5, 0.5), (0.5, 0.05)])
    db = T.loudness(tmp_path / "n.wav", 30, 45)
    assert db.shape == (45,)
    assert (db[:15] < -100).all()  # digital silence
    assert db[16:29] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.3)  # a sine's RMS
    assert db[31:] == pytest.approx(20 * math.log10(0.05 / math.sqrt(2)), abs=0.3)


def test_vowels_are_placed_where_the_voice_is_loud():
    import numpy as np

    # A word from 0 to 0.6 s whose loud part is 0.35-0.5 s: spread evenly, its vowel would sit at 0.17-0.43 s.
    level = np.zeros(100)
    level[5:60] = 0.3
    level[35:50] = 1.0
    segments = T._visemes.place(["s", "t", "ˈa", "p"], 0.0, 0.6, level)
    assert [s.phoneme for s in segments] == ["s", "t", "ˈa", "p"]
    assert segments[0].start == 0.0 and segments[-1].end == pytest.approx(0.6)
    assert all(a.end == pytest.approx(b.start) and b.end > b.start for a, b in zip(segments, segments[1:]))
    vowel = segments[2]
    assert vowel.start <= 0.36 and vowel.end >= 0.49, vowel
    # Without a level, or with a word too short for a step per phoneme: the usual shares.
    assert T._visemes.place(["s", "ˈa"], 0.0, 0.6, None) == T._visemes.spread(["s", "ˈa"], 0.0, 0.6)
    assert T._visemes.place(["s", "t", "ˈa"], 0.0, 0.02, level) == T._visemes.spread(["s", "t", "ˈa"], 0.0, 0.02)


def test_the_jaw_opens_with_the_loudness_and_the_lips_keep_their_form():
    import numpy as np

    speaking = -10.0
    db = np.full(60, -10.0)  # 2 s at 30 fps, at the speaking level...
    db[15:30] = -20.0  # ... half open
    db[30:45] = -29.0  # ... nearly closed
    db[45:] = -60.0  # ... a pause
    quarter = [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]

    def per_quarter(shape: str) -> list[str]:
        out = T.jawed([T.Cue(a, b, shape) for a, b in quarter], db, 30, speaking)
        track = T.mouth_track(out, 30, 60)
        return [track[i] for i in (7, 22, 37, 52)]

    assert per_quarter("C") == ["D", "C", "B", "X"]  # spread lips: wide, half, teeth
    assert per_quarter("F") == ["E", "E", "F", "X"]  # rounded lips: open round, then puckered
    assert per_quarter("A") == ["A", "A", "A", "A"]  # lips pressed (M, B, P) stay closed, even in a pause
    assert per_quarter("G") == ["G", "G", "G", "X"]  # teeth on the lip (F, V) whatever the jaw
    # Equal neighbours merge: one cue per change.
    merged = T.jawed([T.Cue(0.0, 0.25, "C"), T.Cue(0.25, 0.5, "B")], db, 30, speaking)
    assert merged == [T.Cue(0.0, 0.5, "D")]


@pytest.mark.parametrize("fps", [24, 30, 60])
def test_blinks_are_natural_and_seeded(fps):
    eyes = T.blink_track(fps, fps * 120, seed=3)
    starts = [i for i, e in enumerate(eyes) if e != "o" and (i == 0 or eyes[i - 1] == "o")]
    assert len(starts) >= 120 / 6 - 1
    assert T.FIRST_BLINK[0] * fps - 1 <= starts[0] <= T.FIRST_BLINK[1] * fps + 1
    for a, b in zip(starts, starts[1:]):
        assert 2.0 * fps - 1 <= b - a <= 6.0 * fps + 1
    n = round(0.15 * fps)
    for s in starts:
        blink = eyes[s : s + n]
        assert "c" in blink and set(blink) <= {"h", "c"} and eyes[s + n] == "o"
    assert T.blink_track(fps, fps * 120, seed=3) == eyes and T.blink_track(fps, fps * 120, seed=4) != eyes


def test_the_head_moves_while_speaking_and_rests_in_pauses():
    words = [WordTiming(word="w", start=0.2 + 0.3 * i, end=0.45 + 0.3 * i, sentence=0) for i in range(10)]
    words += [WordTiming(word="w", start=8.0 + 0.3 * i, end=8.25 + 0.3 * i, sentence=1) for i in range(10)]
    timeline, _, _ = T.timeline(words, [["m", "ˈa"]] * 20, 11.5, 30, seed=1, scale=0.72)
    speaking = timeline.head_dx[10:90]
    assert max(speaking) - min(speaking) > 0.5  # pixels
    assert all(abs(v) < 0.05 for v in timeline.head_dx[150:210])  # 5-7 s: a long pause, the rest pose
    assert max(abs(a) for a in timeline.head_angle) <= 2.0
    assert max(abs(v) for v in timeline.body_dy) < 3.0  # breathing, not bouncing
    still, _, _ = T.timeline(words, [["m", "ˈa"]] * 20, 11.5, 30, seed=1, scale=0.72, motion=0.0)
    assert set(still.head_dx) == {0.0} and set(still.head_angle) == {0.0}


def test_a_narration_without_word_times_is_refused(tmp_path):
    flat = [WordTiming(word=w, start=0.0, end=0.0, sentence=0) for w in ("no", "times", "here")]
    narration = Narration(path=tmp_path / "n.wav", duration=3.0, sample_rate=8000, words=flat)
    with pytest.raises(NewsreelError, match="word times"):
        T.check_word_times(narration)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(PHONEMES), min_size=1, max_size=8),
    st.floats(0.0, 2.0),
    st.floats(0.02, 1.5),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=400),
)
def test_placed_phonemes_tile_their_word_in_order(phonemes, start, length, level):
    import numpy as np

    segments = T._visemes.place(phonemes, start, start + length, np.array(level))
    assert [s.phoneme for s in segments] == phonemes  # every one, in order (all of PHONEMES have a weight)
    assert segments[0].start == pytest.approx(start) and segments[-1].end == pytest.approx(start + length)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(segments, segments[1:]))
    assert all(s.end > s.start for s in segments)
