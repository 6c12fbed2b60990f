"""A worker that cannot load its detector takes no job: the job stays on the queue for a good
worker, the bad one says why (exit status, stderr, the workers table, /v1/stats, the fleet page)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.config import dump
from edgecloud.worker.cli import EXIT_NOT_READY
from edgecloud.worker.main import NotReady
from edgecloud.workers import BOOTING, BUSY, NOT_READY, NotReadyView, WorkerStates, counted_as


@pytest.fixture
def missing_weights(settings, tmp_path):
    """The default detector (darknet) pointed at weights that are not there, as on a plain install."""
    settings.detector.weights = tmp_path / "nonexistent" / "yolov3-tiny.weights"
    return settings.detector.weights


def _queue_counts(aws, url) -> tuple[int, int]:
    """(visible, in flight) on a queue."""
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_a_worker_without_its_model_takes_no_job_and_a_good_one_then_does_it(
    settings, mocked_aws, make_worker, enqueue, vtest_mp4, instance_id, missing_weights, stored_result
):
    aws, queues = mocked_aws
    job = enqueue(vtest_mp4)
    states = WorkerStates(aws, settings.tables.workers)

    with pytest.raises(NotReady, match="not found"):
        make_worker(instance_id=instance_id).run()

    assert _queue_counts(aws, queues.jobs) == (1, 0)  # never received: visible to the next worker at once
    assert states.reported() == {instance_id: NOT_READY}
    [shown] = states.not_ready()
    assert shown["worker_id"] == instance_id and str(missing_weights) in shown["reason"]

    settings.detector.weights = None  # fixed: systemd's next start finds the model
    assert make_worker(instance_id=instance_id).process_batch().done == 1
    assert stored_result(aws, settings, job.clip_id).status == "done"
    assert states.reported() == {instance_id: BUSY} and states.not_ready() == []  # its last report: busy with the job


def test_worker_run_exits_non_zero_with_the_reason(
    settings, mocked_aws, enqueue, vtest_mp4, instance_id, missing_weights, tmp_path, monkeypatch
):
    aws, queues = mocked_aws
    config = tmp_path / "worker.yaml"
    config.write_text(dump(settings))
    monkeypatch.setenv("EDGECLOUD_WORKER__INSTANCE_ID", instance_id)
    enqueue(vtest_mp4)

    outcome = CliRunner().invoke(cli, ["--config", str(config), "worker", "run"])

    assert outcome.exit_code == EXIT_NOT_READY != 0
    assert "not ready, took no job" in outcome.stderr and str(missing_weights) in outcome.stderr
    assert _queue_counts(aws, queues.jobs) == (1, 0)


def test_stats_and_the_fleet_page_show_a_worker_that_is_not_ready(
    settings, mocked_aws, controller_app, client, operator_client, make_worker, missing_weights
):
    worker = make_worker(instance_id="i-0notready")
    with pytest.raises(NotReady):
        worker.process_batch()

    [shown] = operator_client.get("/v1/stats").get_json()["not_ready"]
    assert shown["worker_id"] == "i-0notready" and "cannot load" in shown["reason"]
    assert client.get("/v1/stats").get_json()["not_ready"] is None  # a device learns no paths of the fleet

    page = _logged_in(controller_app, operator_client).get("/fragments/fleet").get_data(as_text=True)
    assert "Workers not ready" in page and "i-0notready" in page and str(missing_weights) in page


def test_a_not_ready_report_is_counted_as_booting_and_goes_stale(settings, mocked_aws):
    aws, _ = mocked_aws
    now = [1000.0]
    states = WorkerStates(aws, settings.tables.workers, clock=lambda: now[0])
    states.report("i-0abc", NOT_READY, "no weights")
    assert counted_as(states.reported()["i-0abc"]) == BOOTING  # restarting: the autoscaler launches none for it
    assert [w["worker_id"] for w in states.not_ready()] == ["i-0abc"]
    now[0] += 3600  # nobody restarted it for an hour: no longer shown as a worker trying to start
    assert states.not_ready() == []


def test_stats_read_the_table_at_most_once_per_ttl(settings, mocked_aws):
    aws, _ = mocked_aws
    now = [0.0]
    states = WorkerStates(aws, settings.tables.workers)
    view = NotReadyView(states, ttl_s=10, clock=lambda: now[0])
    assert view() == []
    states.report("i-0late", NOT_READY, "no weights")
    now[0] = 9.9
    assert view() == []  # every Pi polls /v1/stats: one Scan per ttl, not one per poll
    now[0] = 10.0
    assert [w["worker_id"] for w in view()] == ["i-0late"]


def _logged_in(app, operator_client):
    """A browser-like client logged in to the dashboard with the operator's token."""
    token = operator_client.environ_base["HTTP_AUTHORIZATION"].split()[1]
    browser = app.test_client()
    reply = browser.post("/login", data={"token": token})
    assert reply.status_code in (302, 303), reply.get_data(as_text=True)
    return browser


@pytest.mark.slow
def test_worker_processes_without_then_with_the_model(stack_settings, tmp_path, vtest_mp4):
    """As a fault scenario does it: `edgecloud worker run` with EDGECLOUD_DETECTOR__WEIGHTS at a missing
    file exits 3 at once, the job untouched; the same command without it then does the job."""
    import os
    import subprocess
    import sys

    from edgecloud.aws import Aws, Queues
    from edgecloud.clock import utcnow
    from edgecloud.protocol.containers import CLIP_TYPES
    from edgecloud.protocol.ids import new_clip_id
    from edgecloud.protocol.keys import clip_key
    from edgecloud.protocol.messages import Job
    from edgecloud.result_store import ResultStore

    settings = stack_settings
    aws = Aws(settings.aws)
    queues = Queues(aws, settings)
    clip_id = new_clip_id("pi-01")
    key = clip_key(clip_id, CLIP_TYPES["video/mp4"])
    aws.s3.put_object(Bucket=settings.storage.clips_bucket, Key=key, Body=vtest_mp4.read_bytes())
    aws.sqs.send_message(
        QueueUrl=queues.jobs,
        MessageBody=Job(
            clip_id=clip_id,
            bucket=settings.storage.clips_bucket,
            key=key,
            device_id="pi-01",
            content_type="video/mp4",
            recorded_at=utcnow(),
            submitted_at=utcnow(),
        ).model_dump_json(),
    )
    config = tmp_path / "worker.yaml"
    config.write_text(dump(settings))
    command = [sys.executable, "-c", "from edgecloud.cli import main; main()", "--config", str(config), "worker", "run"]
    env = dict(os.environ, EDGECLOUD_WORKER__INSTANCE_ID="i-0bench", EDGECLOUD_WORKER__RETIRE="false")

    bad = subprocess.run(
        command,
        env={**env, "EDGECLOUD_DETECTOR__WEIGHTS": str(tmp_path / "none.weights")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == EXIT_NOT_READY, bad.stderr
    assert "not ready, took no job" in bad.stderr and "none.weights" in bad.stderr
    assert _queue_counts(aws, queues.jobs) == (1, 0)
    assert WorkerStates(aws, settings.tables.workers).reported()["i-0bench"] == NOT_READY  # the table is shared

    good = subprocess.run([*command, "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert ResultStore(aws.s3, settings.storage.results_bucket).get(clip_id).status == "done"
