"""Bandwidth saving before upload: smaller frames, same timestamps, bytes saved reported."""

from __future__ import annotations

import av
import pytest

from edgecloud.edge.agent import EdgeAgent
from edgecloud.edge.downscale import downscale
from edgecloud.edge.scheduler import Policy
from edgecloud.edge.simulate import trigger_event


def test_downscale_shrinks_the_clip_and_keeps_its_timestamps(vtest_mp4, tmp_path):
    out = tmp_path / "small.mp4"
    before, after = downscale(vtest_mp4, out, width=320, crf=30)
    assert before == vtest_mp4.stat().st_size and after == out.stat().st_size and after < before / 2
    with av.open(str(vtest_mp4)) as a, av.open(str(out)) as b:
        src = [f.time for f in a.decode(video=0)]
        small = list(b.decode(video=0))
    assert (small[0].width, small[0].height) == (320, 240)
    assert [round(f.time, 3) for f in small] == [round(t - src[0], 3) for t in src]


class AlwaysCloud(Policy):
    name = "always-cloud"

    def place(self, situation):
        return "cloud"


def test_clips_sent_to_the_cloud_are_downscaled_and_the_saving_recorded(
    edge_settings, pins, controller_app, serve, mocked_aws
):
    controller = serve(controller_app)
    edge_settings.edge.controller_url = controller.url
    edge_settings.edge.downscale_width = 320
    with EdgeAgent(edge_settings, pin_factory=pins, policy=AlwaysCloud()) as agent:
        clip_id = trigger_event(agent, pins.pin(edge_settings.edge.pir_pin))
        assert agent.wait_idle(30)
    [record] = agent.stats.records()
    assert record.placement == "cloud" and record.bytes_saved > 0
    assert record.bytes_sent == pytest.approx(record.bytes - record.bytes_saved, rel=0.05)
    aws, _ = mocked_aws
    [key] = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=edge_settings.storage.clips_bucket)["Contents"]]
    assert clip_id in key
    assert aws.s3.head_object(Bucket=edge_settings.storage.clips_bucket, Key=key)["ContentLength"] == record.bytes_sent
