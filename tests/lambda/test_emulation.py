"""The built zip, run by the local emulation of Lambda and its SQS event source
against a moto server: a clean interpreter, partial failures, the function
timeout, and dead-lettering exactly as SQS does it for EC2 workers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
import zipfile

import pytest

from edgecloud.aws import Aws
from edgecloud.clock import utcnow
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import clip_key
from edgecloud.protocol.messages import Job
from edgecloud.provision import ensure_resources
from edgecloud.result_store import ResultStore
from edgecloud.worker.lambda_.emulator import runtime_dir, unpack
from edgecloud.worker.lambda_.local import LocalDeployment

from .conftest import UNREACHABLE

pytestmark = pytest.mark.slow


def test_the_zip_is_what_lambda_accepts(local_zip):
    report = json.loads(local_zip.with_name("package.json").read_text())
    assert set(report) == {"zip", "handler", "unzipped_mb", "zipped_mb"}
    assert report["handler"] == "edgecloud.worker.lambda_handler.handle" and report["zip"] == str(local_zip)
    assert report["unzipped_mb"] <= 250 and report["zipped_mb"] == round(local_zip.stat().st_size / 1e6, 1)
    names = zipfile.ZipFile(local_zip).namelist()
    assert "edgecloud/worker/lambda_handler.py" in names and "edgecloud/worker/process.py" in names
    assert not any(n.startswith(("torch/", "boto3/", "edgecloud/controller/", "edgecloud/edge/")) for n in names)


def test_the_handler_imports_from_the_zip_alone(local_zip, tmp_path):
    task, runtime = unpack(local_zip, tmp_path), runtime_dir(tmp_path)
    probe = (
        "import sys; sys.path[:0] = sys.argv[1:3]\n"
        "import cv2, numpy, pydantic, yaml, boto3, edgefirst.tracker, edgecloud.worker.lambda_handler as f\n"
        "assert callable(f.handle)\n"
        "print(cv2.__file__, numpy.__file__, pydantic.__file__)\n"
        "for name in ('torch', 'flask', 'moto'):\n"
        "    try:\n        __import__(name)\n    except ImportError:\n        continue\n"
        "    raise SystemExit(name + ' importable')\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(task), str(runtime)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert all(path.startswith(str(task)) for path in done.stdout.split())


@pytest.fixture
def cloud(settings, moto_server, tmp_path):
    """Settings on the moto server with this test's own buckets and queues."""
    tag = uuid.uuid4().hex[:8]
    s = settings.model_copy(deep=True)
    s.aws.endpoint_url = moto_server
    for section, names in (
        ("storage", ("clips_bucket", "results_bucket", "frames_bucket")),
        ("queues", ("jobs", "completions", "dead_letter", "retire", "frame_answers")),
    ):
        for name in names:
            setattr(getattr(s, section), name, f"{getattr(getattr(s, section), name)}-{tag}")
    s.function.name = f"fn-{tag}"
    s.detector.name = "hog"  # the zip carries no model files; HOG is OpenCV's own
    aws = Aws(s.aws)
    return s, aws, ensure_resources(aws, s)


def _queue(aws, queues, settings, clip, bucket=None) -> Job:
    clip_id = new_clip_id("pi-01")
    key = clip_key(clip_id, CLIP_TYPES["video/mp4"])
    if clip is not None:
        aws.s3.put_object(Bucket=settings.storage.clips_bucket, Key=key, Body=clip.read_bytes())
    job = Job(
        clip_id=clip_id,
        bucket=bucket or settings.storage.clips_bucket,
        key=key,
        device="pi-01",
        recorded_at=utcnow(),
        submitted_at=utcnow(),
    )
    aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=job.model_dump_json())
    return job


def _wait_for(predicate, timeout=90.0) -> bool:
    done = threading.Event()
    while not done.wait(0.2):
        if predicate():
            return True
        timeout -= 0.2
        if timeout <= 0:
            return False


def test_partial_failure_and_the_last_try(cloud, local_zip, vtest_mp4, tmp_path):
    settings, aws, queues = cloud
    settings.function.batch_size = 2
    aws.sqs.set_queue_attributes(QueueUrl=queues.jobs, Attributes={"VisibilityTimeout": "1"})
    good = _queue(aws, queues, settings, vtest_mp4)
    broken = _queue(aws, queues, settings, None, bucket=UNREACHABLE)
    store = ResultStore(aws.s3, settings.storage.results_bucket)

    with LocalDeployment(settings, local_zip, tmp_path / "fn", frames=False, max_concurrency=1) as deployment:
        assert _wait_for(lambda: store.get(broken.clip_id) is not None)
    invocations = deployment.function.invocations

    assert store.get(good.clip_id).status == "done"
    assert store.get(good.clip_id).processed_by.startswith("lambda:")
    failed = store.get(broken.clip_id)  # retried by SQS, then ended on its last try with the reason
    assert failed.status == "failed" and f"failed {settings.queues.max_receive} times" in failed.error
    first = invocations[0].reply["result"]["batchItemFailures"]
    assert len(first) == 1 and invocations[0].cold and not invocations[-1].cold
    assert len(invocations) == settings.queues.max_receive  # the good clip was deleted after the first
    assert (
        aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_a_job_that_outruns_the_timeout_is_dead_lettered(cloud, local_zip, vtest_avi, tmp_path):
    settings, aws, queues = cloud
    settings.function.timeout_s = 5  # 80 s of footage take far longer
    settings.queues.max_receive = 2
    dlq = aws.sqs.get_queue_attributes(QueueUrl=queues.dead_letter, AttributeNames=["QueueArn"])["Attributes"]
    aws.sqs.set_queue_attributes(
        QueueUrl=queues.jobs,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq["QueueArn"], "maxReceiveCount": "2"}),
        },
    )
    job = _queue(aws, queues, settings, vtest_avi)

    def dead_lettered():
        got = aws.sqs.receive_message(QueueUrl=queues.dead_letter, MaxNumberOfMessages=1).get("Messages", [])
        return bool(got) and json.loads(got[0]["Body"])["clip_id"] == job.clip_id

    with LocalDeployment(settings, local_zip, tmp_path / "fn", frames=False, max_concurrency=1) as deployment:
        assert _wait_for(dead_lettered, timeout=60)
    replies = [i.reply for i in deployment.function.invocations]
    assert len(replies) == settings.queues.max_receive
    assert {r["errorType"] for r in replies} == {"Sandbox.Timedout"}
    assert all(i.cold for i in deployment.function.invocations)  # a timed-out environment is not reused
    assert ResultStore(aws.s3, settings.storage.results_bucket).get(job.clip_id) is None
