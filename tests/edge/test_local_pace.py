"""This machine playing a Pi: each clip is really analysed, then held until it has taken a Pi's time."""

from __future__ import annotations

import threading

import pytest

from edgecloud.edge.local import LocalProcessor


class FakeClock:
    """Monotonic seconds that move only when told: analysis and the hold advance it."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("slowdown, holds, seconds", [(6, [2.5], 3.0), (1, [], 0.5)])
def test_local_analysis_is_paced_to_the_pis_slowdown(settings, slowdown, holds, seconds):
    settings.edge.emulated_pi_slowdown = slowdown
    clock, held, done = FakeClock(), [], []

    def analyse(*, path, clip_id, fps, recorded_at):
        clock.now += 0.5  # this machine's time over the clip
        return f"labels of {clip_id}"

    def hold(s):  # while held the Pi is still busy with the clip, as a real Pi would be
        held.append((s, processor.waiting, processor.busy_with()))
        clock.now += s

    processor = LocalProcessor(
        settings, lambda item, result, s: done.append((item, result, s)), analyse=analyse, clock=clock, hold=hold
    ).start()
    try:
        processor.submit("entry", path=None, clip_id="c1", fps=None)
        assert processor.wait_idle(30)
    finally:
        processor.close()
    assert [h[0] for h in held] == pytest.approx(holds)
    assert all(waiting == 1 and busy == ("c1", pytest.approx(0.5)) for _, waiting, busy in held)
    # The Pi's result, and the Pi's time, which the scheduler's history learns from.
    assert done == [("entry", "labels of c1", pytest.approx(seconds))]
    assert processor.busy_with() is None


def test_close_ends_a_hold_early(settings):
    settings.edge.emulated_pi_slowdown = 100
    clock, analysed, done = FakeClock(), threading.Event(), []

    def analyse(**kwargs):
        clock.now += 60  # held for 99 x 60 s of real time unless close cuts it short
        analysed.set()
        return "labels"

    processor = LocalProcessor(
        settings, lambda item, result, s: done.append(result), analyse=analyse, clock=clock
    ).start()
    processor.submit("entry", path=None, clip_id="c1", fps=None)
    assert analysed.wait(30)
    processor.close()
    assert done == ["labels"]  # the hold ended and the clip's result was handed on before close returned
