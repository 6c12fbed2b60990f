"""The boto3 seam and resource setup, on moto."""

import json

from edgecloud.aws import Aws
from edgecloud.provision import ensure_resources


def test_ensure_resources_is_idempotent_and_sets_redrive(settings):
    from moto import mock_aws

    with mock_aws():
        aws = Aws(settings.aws)
        queues = ensure_resources(aws, settings)
        queues_again = ensure_resources(aws, settings)
        assert queues.jobs == queues_again.jobs
        attrs = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(settings.queues.dead_letter)
        assert int(redrive["maxReceiveCount"]) == settings.queues.max_receive
        buckets = {b["Name"] for b in aws.s3.list_buckets()["Buckets"]}
        assert {settings.storage.clips_bucket, settings.storage.results_bucket} <= buckets


def test_clients_point_at_the_configured_endpoint(settings):
    settings.aws.endpoint_url = "http://127.0.0.1:1"
    aws = Aws(settings.aws)
    assert aws.s3.meta.endpoint_url == "http://127.0.0.1:1"
    assert aws.sqs is aws.sqs  # one client per service, reused


def test_real_aws_has_no_endpoint(settings):
    assert Aws(settings.aws).s3.meta.endpoint_url.startswith("https://")


def test_ensuring_resources_again_brings_an_existing_queue_to_the_settings(settings, mocked_aws):
    from edgecloud.provision import ensure_resources

    aws, queues = mocked_aws
    settings.queues.visibility_timeout = 45  # differs from the queue made by the fixture
    ensure_resources(aws, settings)
    attrs = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
