"""Video limits: a clip's headers read on real footage without decoding, the first limit a clip
breaks in words, decoding's own checks (headers can lie), and the bench's bombs."""

from __future__ import annotations

import io

import pytest

from edgecloud.limits import Guard, OverLimit, read_headers, refusal
from edgecloud.limits_settings import LimitsSettings
from edgecloud.video import open_clip


def headers(path, **kw):
    kw.setdefault("max_pixels", LimitsSettings().max_pixels)
    return read_headers(path, count_up_to=LimitsSettings().max_frames, **kw)


def test_headers_of_real_footage(vtest_mp4, vtest_avi, vtest_h264):
    mp4, avi = headers(vtest_mp4), headers(vtest_avi)
    assert (mp4.width, mp4.height, mp4.frames, mp4.duration_s, mp4.fps) == (768, 576, 50, 5.0, 10.0)
    assert (avi.width, avi.height, avi.frames, avi.duration_s) == (768, 576, 795, 79.5)
    # A raw H.264 stream says neither: its packets are counted, its duration is theirs at the edge's rate.
    raw = headers(vtest_h264, fps=10, content_type="video/h264")
    assert (raw.width, raw.height, raw.frames, raw.duration_s, raw.counted) == (768, 576, 50, 5.0, True)
    assert not mp4.counted


def test_an_upload_stream_is_read_and_left_at_its_start(vtest_mp4):
    stream = io.BytesIO(vtest_mp4.read_bytes())
    stream.seek(100)
    assert headers(stream, content_type="video/mp4").frames == 50
    assert stream.tell() == 0  # stored whole afterwards


@pytest.mark.parametrize(
    "limit, value, why",
    [
        ("max_pixels", 768 * 576 - 1, f"768x576 frames are over limits.max_pixels {768 * 576 - 1} pixels"),
        ("max_frames", 49, "50 frames are over limits.max_frames 49"),
        ("max_duration_s", 4.5, "5.0 s of video is over limits.max_duration_s 4.5"),
    ],
)
def test_the_limit_a_clip_breaks_is_named(vtest_mp4, limit, value, why):
    assert refusal(vtest_mp4, LimitsSettings(**{limit: value})) == why
    assert refusal(vtest_mp4, LimitsSettings(**{limit: value + 1})) is None


def test_counting_a_raw_streams_frames_stops_past_the_limit(vtest_h264):
    assert (
        refusal(vtest_h264, LimitsSettings(max_frames=20), fps=10) == "at least 21 frames are over limits.max_frames 20"
    )


@pytest.mark.parametrize("body", [b"not a video\n" * 50, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 3000])
def test_unreadable_headers_are_a_refusal(body):
    why = refusal(io.BytesIO(body), LimitsSettings(), content_type="video/mp4")
    assert why.startswith("the clip's headers are unreadable")


def test_a_decoded_frame_over_the_default_limit_is_refused():
    Guard(LimitsSettings()).frame(0, (2160, 3840, 3))
    with pytest.raises(OverLimit, match="frame 0 is 3840x2161: over limits.max_pixels 3840x2160"):
        Guard(LimitsSettings()).frame(0, (2161, 3840, 3))


def test_decoding_stops_at_max_frames_and_at_the_budget(vtest_mp4):
    with open_clip(vtest_mp4, guard=Guard(LimitsSettings(max_frames=50))) as whole:
        assert len(list(whole.frames())) == 50
    guard = Guard(LimitsSettings(max_frames=50))
    with open_clip(vtest_mp4, guard=guard) as opened:
        guard.limits = LimitsSettings(max_frames=10)  # as if the headers had said 50 and there were more
        with pytest.raises(OverLimit, match="more than 10 frames decoded: over limits.max_frames"):
            list(opened.frames())
    now = [0.0]
    late = Guard(LimitsSettings(clip_budget_s=30), clock=lambda: now[0])
    late.in_time("frame 1")
    now[0] = 30.5
    with pytest.raises(OverLimit, match=r"ran past limits.clip_budget_s \(30 s\) at frame 7"):
        late.frame(7)


@pytest.mark.parametrize(
    "kind, why",
    [
        ("frames", "24000 frames are over limits.max_frames 3600"),
        ("duration", "900.0 s of video is over limits.max_duration_s 120"),
        pytest.param("pixels", "8190x8190 frames are over limits.max_pixels 3840x2160", marks=pytest.mark.slow),
    ],
)
def test_the_bench_bombs_break_one_default_limit_each(tmp_path, kind, why):
    from edgecloud.bench.bomb import write_bomb_clip

    clip = write_bomb_clip(tmp_path / f"{kind}.mp4", kind)
    assert clip.stat().st_size < 40 * 1024 * 1024  # under controller.max_clip_mb: only the limits stop it
    assert refusal(clip, LimitsSettings(), content_type="video/mp4") == why
