"""Done-when of the infra issue, on moto: `edgecloud infra up`, the demo on the stack's own
buckets and queues, then `edgecloud infra down --force` - one test."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgecloud.aws import Aws
from edgecloud.cli import cli
from edgecloud.config import load
from edgecloud.protocol.keys import result_key

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Tried to parse AWS")]
STACK = "ec-pipeline"


def test_infra_up_then_demo_on_its_resources_then_down(moto_server, settings, vtest_avi, tmp_path):
    from edgecloud.wiring.demo_run import run_demo

    # A fleet name of its own: the moto server is shared with other tests.
    env = {"EDGECLOUD_AWS__ENDPOINT_URL": moto_server, "EDGECLOUD_FLEET__NAME": "infra-pipeline", "COLUMNS": "240"}
    runner = CliRunner(env=env)
    settings.aws.endpoint_url = moto_server
    aws = Aws(settings.aws)
    ami = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    config = tmp_path / "deployed.yaml"

    up = runner.invoke(
        cli,
        [
            "infra",
            "up",
            "--stack",
            STACK,
            "--param",
            f"WorkerAmiId={ami}",
            "--config-out",
            str(config),
            "--poll",
            "0.2",
        ],
    )
    assert up.exit_code == 0, up.output
    outputs = json.loads(runner.invoke(cli, ["infra", "outputs", "--stack", STACK, "--json"]).output)

    deployed = load(config, environ={})
    assert deployed.aws.endpoint_url == moto_server
    assert deployed.storage.clips_bucket == outputs["ClipsBucket"]
    assert deployed.queues.jobs == outputs["JobsQueue"] == f"{STACK}-jobs"
    assert deployed.fleet.name == "infra-pipeline"

    report = run_demo(deployed, video=vtest_avi, clips=2, create_resources=False, workdir=tmp_path / "demo")
    clips = report["clips"]
    assert len(clips) == 2
    for clip in clips:
        assert clip["status"] == "done", clip
        assert clip["labels"] is not None
        # The result sits in the stack's own results bucket, under the key its clip id names.
        aws.s3.head_object(Bucket=outputs["ResultsBucket"], Key=result_key(clip["clip_id"]))

    down = runner.invoke(cli, ["infra", "down", "--stack", STACK, "--poll", "0.2"])
    assert down.exit_code == 1 and "--force" in down.output  # the buckets hold the demo's clips
    down = runner.invoke(cli, ["infra", "down", "--stack", STACK, "--force", "--poll", "0.2"])
    assert down.exit_code == 0, down.output
    names = {b["Name"] for b in aws.s3.list_buckets()["Buckets"]}
    assert not {outputs["ClipsBucket"], outputs["ResultsBucket"]} & names
    assert not aws.sqs.list_queues(QueueNamePrefix=f"{STACK}-").get("QueueUrls")
