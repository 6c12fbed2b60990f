"""Instance id from settings, else IMDSv2 (token first), else none (not on EC2)."""

from __future__ import annotations

import socket

from edgecloud.config import WorkerSettings
from edgecloud.worker.identity import imds_instance_id, instance_id, wait_until_in_service


def test_imdsv2_asks_for_a_token_first(fake_imds, imds):
    assert imds_instance_id(imds) == "i-0123456789abcdef0"
    assert fake_imds.requests == ["PUT /latest/api/token", "GET /latest/meta-data/instance-id"]


def test_settings_win_over_metadata(fake_imds, imds):
    assert instance_id(WorkerSettings(instance_id="i-from-config"), imds) == "i-from-config"
    assert fake_imds.requests == []


def test_no_metadata_service_means_no_instance():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert instance_id(WorkerSettings(), closed) is None


def test_a_warm_pool_instance_waits_until_it_is_in_service(fake_imds, imds):
    fake_imds.lifecycle = ["Warmed:Stopped", "Warmed:Stopped", "InService"]
    pauses = []
    assert wait_until_in_service(imds, pause=pauses.append, every_s=5) == "InService"
    assert pauses == [5, 5]  # asked again after each pause, and went on once in service


def test_an_instance_outside_a_group_or_off_ec2_does_not_wait(imds):
    pauses = []
    assert wait_until_in_service(imds, pause=pauses.append) is None  # IMDS has no lifecycle state: 404
    assert wait_until_in_service("http://127.0.0.1:9", pause=pauses.append) is None  # no IMDS at all
    assert pauses == []
