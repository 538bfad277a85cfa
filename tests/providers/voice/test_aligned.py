"""The fit shared by the piper and openai-tts voices (pipeline/providers/voice/_aligned.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.providers.voice._aligned import Fit

SCALE = Fit(tolerance=0.03, span=0.35, bounds=(0.5, 2.0), digits=4, slower_is_larger=True)  # like length_scale
SPEED = Fit(tolerance=0.04, span=0.25, bounds=(0.25, 4.0), digits=3, slower_is_larger=False)  # like speed


def params(target=60.0, pause=0.25, fit=True):
    return SimpleNamespace(target_seconds=target, sentence_pause=pause, fit=fit)


def test_close_enough_or_fit_off_is_no_second_pass():
    assert SCALE.second_pass(1.0, 61.0, 10, params()) is None  # 1.7 % off
    assert SPEED.second_pass(1.0, 62.0, 10, params()) is None  # 3.3 % off
    assert SCALE.second_pass(1.0, 90.0, 10, params(fit=False)) is None
    assert SCALE.second_pass(1.0, 2.0, 10, params(pause=1.0)) is None  # all pauses: nothing to scale


def test_speech_time_is_scaled_and_the_pauses_are_not():
    # 10 sentences, 9 pauses of 0.25 s: 2.25 s that no setting changes.
    assert SCALE.second_pass(1.0, 72.25, 10, params()) == pytest.approx(round(57.75 / 70.0, 4))
    assert SPEED.second_pass(1.0, 72.25, 10, params()) == pytest.approx(round(70.0 / 57.75, 3))
    assert SCALE.second_pass(1.0, 50.0, 10, params()) > 1.0 and SPEED.second_pass(1.0, 50.0, 10, params()) < 1.0


def test_a_pass_moves_at_most_span_and_stays_in_bounds():
    assert SCALE.second_pass(1.0, 200.0, 1, params()) == 0.65
    assert SPEED.second_pass(1.0, 200.0, 1, params()) == 1.25
    assert SCALE.second_pass(1.9, 10.0, 1, params()) == 2.0
    assert SPEED.second_pass(0.3, 10.0, 1, params()) == 0.25
    assert SCALE.second_pass(2.0, 10.0, 1, params()) is None  # already at the bound: the same setting again
