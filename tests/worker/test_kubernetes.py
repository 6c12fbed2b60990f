"""A worker in a Kubernetes pod: it never takes the node's instance for its own, never
terminates anything, and never leaves when idle (KEDA decides how many pods run)."""

from __future__ import annotations

import itertools

import pytest

from edgecloud.config import WorkerSettings
from edgecloud.worker.identity import instance_id, on_kubernetes
from edgecloud.worker.main import Worker
from edgecloud.worker.retirers import Unmanaged
from edgecloud.workers import WorkerStates

IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.100.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.mark.parametrize(
    "platform, environ, expected",
    [
        ("auto", IN_A_POD, True),
        ("auto", {}, False),
        ("kubernetes", {}, True),
        ("ec2", IN_A_POD, False),
    ],
)
def test_the_platform_setting_and_its_detection(platform, environ, expected):
    assert on_kubernetes(WorkerSettings(platform=platform), environ) is expected


def test_in_a_pod_the_metadata_service_is_never_asked(fake_imds, imds):
    # On an EKS node IMDS answers a pod with the node's instance id: it must not become the worker's.
    assert instance_id(WorkerSettings(), imds, IN_A_POD) is None
    assert instance_id(WorkerSettings(instance_id="i-0node"), imds, IN_A_POD) is None
    assert fake_imds.requests == []
    assert instance_id(WorkerSettings(), imds, {}) == "i-0123456789abcdef0"  # the same call off Kubernetes


def _stopping_clock(worker_box: list, looks: int):
    """A clock that jumps an hour per look and stops the worker after ``looks`` looks:
    far past any idle timeout, with no real waiting."""
    ticks = itertools.count()

    def clock() -> float:
        tick = next(ticks)
        if tick >= looks and worker_box:
            worker_box[0].stop()
        return tick * 3600.0

    return clock


@pytest.mark.parametrize(
    "platform, outcome, retirer_kind, state",
    [
        ("kubernetes", "stopped", "Unmanaged", "running"),
        ("ec2", "retired", "Ec2Retirer", "terminated"),
    ],
)
def test_idle_in_a_pod_it_neither_leaves_nor_terminates_an_instance(
    mocked_aws, settings, instance_id, platform, outcome, retirer_kind, state
):
    aws, queues = mocked_aws
    settings.worker.wait_seconds = 0
    settings.worker.idle_timeout = 5
    settings.worker.platform = platform
    aws.sqs.send_message(QueueUrl=queues.retire, MessageBody="scale in")  # an ask, too: not for a pod
    box: list[Worker] = []
    # Even handed an instance id (the node's, say), a pod's worker treats it as not its own to end.
    worker = Worker(settings, aws, queues=queues, instance_id=instance_id, clock=_stopping_clock(box, 10))
    box.append(worker)
    assert type(worker.retirer).__name__ == retirer_kind
    assert worker.run() == outcome
    reported = WorkerStates(aws, settings.tables.workers).reported()
    assert (instance_id in reported) is (platform == "ec2")  # the node's id is nobody's state in a pod
    found = aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert found["State"]["Name"] in ({state, "shutting-down"} if state == "terminated" else {state})


def test_a_pods_results_name_the_pod(mocked_aws, settings, monkeypatch):
    aws, queues = mocked_aws
    settings.worker.platform = "kubernetes"
    monkeypatch.setattr("socket.gethostname", lambda: "edgecloud-worker-5d8f7c9b4-x2x7q")
    worker = Worker(settings, aws, queues=queues)
    assert isinstance(worker.retirer, Unmanaged)
    assert worker.processed_by == "pod:edgecloud-worker-5d8f7c9b4-x2x7q"
