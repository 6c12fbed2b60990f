"""Decoding, sampling, the motion gate and motion regions."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.detect.regions import merge, motion_regions
from edgecloud.video import DecodeError, MotionGate, fit_within, open_clip


def test_every_frame_and_sampled_frames(vtest_mp4):
    with open_clip(vtest_mp4) as clip:
        assert clip.fps == pytest.approx(10)
        assert [f.index for f in clip.frames()] == list(range(50))
    with open_clip(vtest_mp4) as clip:
        sampled = list(clip.frames(2))
        assert [f.index for f in sampled] == list(range(0, 50, 5))
        assert [f.t for f in sampled] == pytest.approx([i / 2 for i in range(10)])
        assert clip.stats.frames_total == 50 and clip.stats.seconds > 0
        assert sampled[0].image.shape == (576, 768, 3)


def test_given_fps_wins_over_the_container(vtest_h264):
    with open_clip(vtest_h264, fps=5) as clip:
        assert clip.fps == 5
        assert [f.index for f in clip.frames(1)][:3] == [0, 5, 10]


@pytest.mark.parametrize("content, why", [(None, "not found"), (b"", "empty"), (b"\x00garbage" * 100, "not a video")])
def test_open_refuses_what_is_not_a_video(tmp_path, content, why):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DecodeError, match=why):
        open_clip(path)


def test_fit_within_only_shrinks():
    image = np.zeros((576, 768, 3), np.uint8)
    small, scale = fit_within(image, 384)
    assert small.shape == (288, 384, 3) and scale == 0.5
    same, scale = fit_within(image, 1000)
    assert same is image and scale == 1.0
    assert fit_within(image, None)[1] == 1.0


def test_motion_gate_keeps_first_moving_and_heartbeat_frames(real_frames):
    gate = MotionGate()
    still = real_frames[0]
    first = gate.look(still, 0.0)
    assert first.keep and first.full
    assert not gate.look(still, 0.5).keep
    heartbeat = gate.look(still, 1.0)
    assert heartbeat.keep and heartbeat.full

    moving = MotionGate()
    looks = [moving.look(f, i / 10) for i, f in enumerate(real_frames[::3])]
    assert all(look.keep for look in looks)  # pedestrians walk in every frame
    assert not all(look.full for look in looks[1:])  # moving frames need only their moving regions


def test_motion_regions_surround_blobs_and_never_overlap():
    mask = np.zeros((120, 160), np.uint8)
    mask[20:40, 10:20] = 255  # a person-sized blob near the left
    mask[25:45, 15:25] = 255  # overlapping it
    mask[80:100, 120:130] = 255  # another, far away
    rects = motion_regions(mask, (576, 768, 3))

    assert len(rects) == 2
    for a in rects:
        assert 0 <= a[0] < a[2] <= 768 and 0 <= a[1] < a[3] <= 576
        assert a[2] - a[0] >= 96 and a[3] - a[1] >= 160
        for b in rects:
            assert a is b or not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    left = min(rects)
    assert left[0] <= 10 * 4.8 and left[2] >= 25 * 4.8 and left[1] <= 20 * 4.8 and left[3] >= 45 * 4.8

    everywhere = np.full((120, 160), 255, np.uint8)
    assert motion_regions(everywhere, (576, 768, 3)) is None
    assert motion_regions(np.zeros((120, 160), np.uint8), (576, 768, 3)) == []


def test_merge_unions_chains_of_overlaps():
    assert merge([(0, 0, 10, 10), (20, 0, 30, 10), (5, 0, 25, 10)]) == [(0, 0, 30, 10)]
    assert sorted(merge([(0, 0, 10, 10), (50, 50, 60, 60)])) == [(0, 0, 10, 10), (50, 50, 60, 60)]


def test_a_region_at_the_edge_keeps_the_detector_window_size():
    mask = np.zeros((120, 160), np.uint8)
    mask[117:120, 157:160] = 255  # a few pixels in the bottom-right corner
    [(x1, y1, x2, y2)] = motion_regions(mask, (576, 768, 3))
    assert (x2, y2) == (768, 576)
    assert x2 - x1 >= 96 and y2 - y1 >= 160


def test_raw_stream_without_fps_warns_about_the_guess(vtest_h264, caplog):
    with open_clip(vtest_h264) as clip:
        assert clip.fps > 0
    assert "no fps was given" in caplog.text


def test_prefetched_hands_over_frames_in_order_and_reraises_errors():
    from edgecloud.video import prefetched

    def frames(fail_after=None):
        for i in range(40):
            if i == fail_after:
                raise ValueError("bad packet")
            yield i

    assert list(prefetched(frames(), depth=4)) == list(range(40))
    got = []
    with pytest.raises(ValueError, match="bad packet"):
        for item in prefetched(frames(fail_after=3), depth=2):
            got.append(item)
    assert got == [0, 1, 2]
