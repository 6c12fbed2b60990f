"""`edgecloud worker run --once` in-process (moto is in-process too)."""

from __future__ import annotations

from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.config import dump
from edgecloud.protocol.keys import result_key
from edgecloud.protocol.messages import Result


def test_worker_run_once_processes_one_job(
    settings, mocked_aws, enqueue, vtest_mp4, instance_id, tmp_path, monkeypatch
):
    aws, _ = mocked_aws
    settings.worker.wait_seconds = 1
    config = tmp_path / "worker.yaml"
    config.write_text(dump(settings))
    monkeypatch.setenv("EDGECLOUD_WORKER__INSTANCE_ID", instance_id)
    job = enqueue(vtest_mp4)
    outcome = CliRunner().invoke(cli, ["--config", str(config), "worker", "run", "--once"])
    assert outcome.exit_code == 0, outcome.output
    assert f"worker {instance_id}: once after 1 jobs" in outcome.output
    body = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(job.clip_id))["Body"].read()
    assert Result.model_validate_json(body).processed_by == instance_id
