"""The Pi, analysing a clip itself, tracks its objects in its own zones, as a worker would."""

from __future__ import annotations

import shutil

from .conftest import analysed_on_the_pi

LEFT = [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]


def test_the_pis_result_carries_objects_in_its_own_zones(settings, vtest_mp4, tmp_path):
    settings.edge.device_id = "pi-07"
    settings.zones.devices = {"pi-07": {"path-left": LEFT}, "pi-01": {"elsewhere": LEFT}}
    clip = shutil.copy(vtest_mp4, tmp_path / "clip.mp4")
    result = analysed_on_the_pi(settings, clip, "20261124T113500123Z_pi-07_3fa9c2d1")
    people = [o for o in result.objects if o.label == "person"]
    assert result.status == "done" and people and result.summary["person"].unique == len(people)
    assert {z for o in result.objects for z in o.zones} == {"path-left"}  # the Pi's zones, not pi-01's
