"""The Pi, analysing a clip itself, holds it to the video limits before decoding it."""

from __future__ import annotations

import shutil

from .conftest import analysed_on_the_pi


def test_the_pi_refuses_a_clip_over_a_limit_before_decoding_it(settings, vtest_mp4, tmp_path, decoders_opened):
    settings.detector.name = "hog"
    settings.limits.max_duration_s = 4  # vtest-5s.mp4 lasts 5 s
    clip = shutil.copy(vtest_mp4, tmp_path / "clip.mp4")
    result = analysed_on_the_pi(settings, clip, "20261124T113500123Z_pi-01_3fa9c2d1", timeout=60)
    assert result.status == "failed" and result.processed_by == "edge"
    assert result.error == "5.0 s of video is over limits.max_duration_s 4"
    assert decoders_opened == [] and not (tmp_path / "snapshot.jpg").exists()
