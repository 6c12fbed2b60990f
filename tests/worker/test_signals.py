"""A worker process told to stop (SIGTERM) finishes the job it holds, or leaves at once when idle."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys

import pytest

from edgecloud.aws import Aws
from edgecloud.clock import utcnow
from edgecloud.config import dump, from_dict
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import clip_key, result_key
from edgecloud.protocol.messages import Completion, Job, Result
from edgecloud.provision import ensure_resources


@pytest.fixture
def remote(moto_server, tmp_path):
    """Own buckets and queues on the shared moto server, and a config file for a worker process."""
    tag = secrets.token_hex(3)
    settings = from_dict(
        {
            "aws": {"endpoint_url": moto_server},
            "storage": {"clips_bucket": f"wclips-{tag}", "results_bucket": f"wresults-{tag}"},
            "queues": {
                "jobs": f"wjobs-{tag}",
                "completions": f"wdone-{tag}",
                "dead_letter": f"wdlq-{tag}",
                "retire": f"wretire-{tag}",
            },
            "worker": {"idle_timeout": 120, "wait_seconds": 1, "heartbeat_seconds": 5},
            "controller": {"data_dir": str(tmp_path / "c")},
        }
    )
    aws = Aws(settings.aws)
    queues = ensure_resources(aws, settings)
    config = tmp_path / "worker.yaml"
    config.write_text(dump(settings))
    return settings, aws, queues, config


def start_worker(config, **env):
    return subprocess.Popen(
        [sys.executable, "-m", "edgecloud.cli", "--config", str(config), "worker", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, EDGECLOUD_WORKER__INSTANCE_ID="i-local-test", **env),
    )


@pytest.mark.slow
def test_sigterm_mid_job_finishes_the_job_then_exits(remote, vtest_avi):
    settings, aws, queues, config = remote
    clip_id = new_clip_id("pi-01")
    key = clip_key(clip_id, CLIP_TYPES["video/x-msvideo"])
    aws.s3.upload_file(str(vtest_avi), settings.storage.clips_bucket, key)  # 80 s: seconds of work
    now = utcnow()
    aws.sqs.send_message(
        QueueUrl=queues.jobs,
        MessageBody=Job(
            clip_id=clip_id,
            bucket=settings.storage.clips_bucket,
            key=key,
            device_id="pi-01",
            content_type="video/x-msvideo",
            recorded_at=now,
            submitted_at=now,
        ).model_dump_json(),
    )
    worker = start_worker(config)
    try:
        # Wait for the worker's own word that it holds the job, then ask it to stop.
        started = aws.sqs.receive_message(QueueUrl=queues.completions, WaitTimeSeconds=20)["Messages"]
        assert Completion.model_validate_json(started[0]["Body"]).event == "started"
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=120)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert "stopped after 1 jobs" in output
    body = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id))["Body"].read()
    assert Result.model_validate_json(body).status == "done"
    attrs = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


@pytest.mark.slow
@pytest.mark.parametrize(
    "pod_env, retirer",
    [
        ({}, "<Ec2Retirer i-local-test>"),
        # As in a pod (the kubelet sets this): the same clean stop, and no instance to terminate.
        ({"KUBERNETES_SERVICE_HOST": "10.100.0.1"}, "<Unmanaged >"),
    ],
)
def test_sigterm_while_idle_exits_at_once(remote, tmp_path, pod_env, retirer):
    settings, aws, queues, _ = remote
    settings.worker.wait_seconds = 20  # a long poll the signal must cut short
    config = tmp_path / "long-poll.yaml"
    config.write_text(dump(settings))
    worker = start_worker(config, **pod_env)
    try:
        line = next(line for line in iter(worker.stdout.readline, "") if "polling" in line)  # past start-up logs
        assert line.rstrip().endswith(f"({retirer})")
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=10)  # well inside the 20 s poll it was in
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert "stopped after 0 jobs" in output
