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


def test_an_attempt_botocore_retries_is_logged_with_why(settings, caplog):
    """An endpoint that answers 500 once: botocore retries quietly; the seam says which call, which attempt, why."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answers = iter([500])

    class Flaky(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(next(answers, 200))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.aws.endpoint_url = f"http://127.0.0.1:{server.server_port}"
        with caplog.at_level("WARNING", logger="edgecloud.aws"):
            Aws(settings.aws).s3.head_bucket(Bucket="clips-bucket")  # the retry succeeds
    finally:
        server.shutdown()
    assert [r.getMessage() for r in caplog.records] == ["AWS s3.HeadBucket attempt 1 failed: 500"]
