"""Failed clips sent through again: the ledgers' one way back from failed, POST /v1/clips/retry
(operators only, filters, idempotent) on either ledger, and `edgecloud clips retry` over HTTP."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.clock import utcnow
from edgecloud.config import dump
from edgecloud.controller.ledger import STORING
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import Job
from edgecloud.result_store import ResultStore
from edgecloud.worker.main import Worker
from edgecloud.worker.process import failed_result

from .test_ledger import ledger, open_ledger  # noqa: F401 - the ledger fixtures, both kinds

WHY = "failed 3 times; last error: DetectorUnavailable: darknet:yolov3-tiny weights not found"


# -- the ledgers --------------------------------------------------------------------


def test_only_a_failed_clip_reopens_and_only_once(ledger):  # noqa: F811
    ids = {status: new_clip_id("pi-01") for status in ("failed", "done", "queued")}
    for status, clip_id in ids.items():
        ledger.add(clip_id, "pi-01", "queued", utcnow())
        if status != "queued":
            ledger.mark_finished(clip_id, status, utcnow(), processed_by="i-bad", error=WHY, process_s=1.0)

    assert ledger.reopen(ids["failed"]) is True
    assert ledger.reopen(ids["failed"]) is False  # a second retry racing the first queues nothing
    assert ledger.reopen(ids["done"]) is False and ledger.reopen(ids["queued"]) is False
    row = ledger.get(ids["failed"])
    assert row.status == STORING and not row.final
    assert (row.error, row.processed_by, row.finished_at, row.process_s, row.upload_to_result_s) == (None,) * 5
    assert ledger.mark_queued(ids["failed"]) is True  # then on, as an upload's row
    assert ledger.get(ids["done"]).status == "done" and ledger.get(ids["queued"]).status == "queued"


def test_failed_clips_are_found_by_device_and_submission_time(ledger):  # noqa: F811
    start = utcnow()
    old, new, other = new_clip_id("pi-01"), new_clip_id("pi-01"), new_clip_id("pi-02")
    for clip_id, device, at in (
        (old, "pi-01", start - timedelta(hours=2)),
        (new, "pi-01", start),
        (other, "pi-02", start),
    ):
        ledger.add(clip_id, device, "queued", at)
        ledger.mark_finished(clip_id, "failed", start, error=WHY)

    everything = [r.clip_id for r in ledger.in_status("failed")]
    assert everything[0] == old and sorted(everything) == sorted([old, new, other])  # oldest first
    assert [r.clip_id for r in ledger.in_status("failed", device="pi-01")] == [old, new]
    assert {r.clip_id for r in ledger.in_status("failed", since=start - timedelta(hours=1))} == {new, other}
    assert ledger.in_status("failed", device="pi-02", since=start + timedelta(seconds=1)) == []


# -- the API, on either ledger ------------------------------------------------------------


@pytest.fixture(params=["sqlite", "dynamodb"])
def app(request, settings, mocked_aws):
    settings.controller.ledger = request.param
    return request.getfixturevalue("controller_app")


def _upload(app, token: str, clip: bytes, device: str = "pi-01") -> str:
    client = app.test_client()
    reply = client.post(
        "/v1/clips",
        headers={"Authorization": f"Bearer {token}"},
        data={
            "clip": (io.BytesIO(clip), "clip.mp4", "video/mp4"),
            "metadata": json.dumps({"device_id": device, "clip_id": new_clip_id(device)}),
        },
    )
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()["clip_id"]


def _jobs(aws, queues) -> list[str]:
    """Take every job on the queue; the clip ids they name."""
    found = []
    while messages := aws.sqs.receive_message(QueueUrl=queues.jobs, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            found.append(Job.model_validate_json(m["Body"]).clip_id)
            aws.sqs.delete_message(QueueUrl=queues.jobs, ReceiptHandle=m["ReceiptHandle"])
    return found


def _fail(app, settings, clip_id: str) -> None:
    """What a worker without its model did to a clip (old code): a failed result, and the ledger told."""
    aws = resources(app).aws
    ResultStore(aws.s3, settings.storage.results_bucket).put_first(failed_result(clip_id, WHY, "i-bad"))
    resources(app).ledger.mark_finished(clip_id, "failed", utcnow(), processed_by="i-bad", error=WHY)


@pytest.fixture
def failed_clips(app, settings, mocked_aws, device_token, registry, vtest_mp4):
    """Three clips a misconfigured worker failed: two of pi-01 (the second uploaded at ``cut``), one of pi-02."""
    clip = vtest_mp4.read_bytes()
    first = _upload(app, device_token, clip)
    cut = utcnow()
    second = _upload(app, device_token, clip)
    third = _upload(app, registry.add("device", "pi-02"), clip, "pi-02")
    assert sorted(_jobs(*mocked_aws)) == sorted([first, second, third])  # the bad worker took them all
    for clip_id in (first, second, third):
        _fail(app, settings, clip_id)
    return {"pi-01": [first, second], "pi-02": [third], "cut": cut}


def _retry(app, token: str, body=None):
    return app.test_client().post(
        "/v1/clips/retry", headers={"Authorization": f"Bearer {token}"}, **({} if body is None else {"json": body})
    )


def test_a_device_may_not_retry(app, failed_clips, device_token, mocked_aws):
    reply = _retry(app, device_token, {})
    assert reply.status_code == 403
    assert _jobs(*mocked_aws) == []


def test_retry_requeues_what_the_filters_pick_once(app, failed_clips, operator_token, mocked_aws):
    first, second = failed_clips["pi-01"]
    assert _retry(app, operator_token, {"device": "pi-03"}).get_json() == {"requeued": 0, "clip_ids": []}

    picked = _retry(app, operator_token, {"device": "pi-01", "since": failed_clips["cut"].isoformat()})
    assert picked.status_code == 200 and picked.get_json() == {"requeued": 1, "clip_ids": [second]}
    assert _retry(app, operator_token, {"device": "pi-01", "since": failed_clips["cut"].isoformat()}).get_json() == {
        "requeued": 0,
        "clip_ids": [],
    }  # already re-queued and not final: not queued twice

    rest = _retry(app, operator_token).get_json()  # no body: every failed clip
    assert rest["requeued"] == 2 and set(rest["clip_ids"]) == {first, *failed_clips["pi-02"]}
    assert sorted(_jobs(*mocked_aws)) == sorted([first, second, *failed_clips["pi-02"]])  # one job each
    assert _retry(app, operator_token, {"status": "failed"}).get_json()["requeued"] == 0
    status = app.test_client().get(f"/v1/clips/{second}", headers={"Authorization": f"Bearer {operator_token}"})
    assert status.get_json()["status"] == "queued" and status.get_json()["result"] is None


def test_a_requeued_clip_is_done_by_a_good_worker(app, settings, failed_clips, operator_token, mocked_aws):
    aws, queues = mocked_aws
    [clip_id] = failed_clips["pi-02"]
    assert _retry(app, operator_token, {"device": "pi-02"}).get_json()["clip_ids"] == [clip_id]

    settings.worker.wait_seconds = 0
    assert Worker(settings, aws, queues=queues).process_batch().done == 1  # not a 'duplicate' of the failure

    status = app.test_client().get(f"/v1/clips/{clip_id}", headers={"Authorization": f"Bearer {operator_token}"})
    assert status.get_json()["status"] == "done" and status.get_json()["result"]["status"] == "done"


@pytest.mark.parametrize(
    "body",
    [{"status": "done"}, {"since": "yesterday"}, {"device": "PI 01"}, {"what": 1}, [], "0001-01-01T00:00:00+01:00"],
)
def test_a_bad_retry_request_is_refused(app, operator_token, body):
    if isinstance(body, str):
        body = {"since": body}
    reply = _retry(app, operator_token, body)
    assert reply.status_code == 400, reply.get_json()


# -- the command --------------------------------------------------------------------------


def test_the_command_retries_as_an_operator_and_prints_counts(
    served, failed_clips, operator_token, device_token, settings, tmp_path
):
    config = tmp_path / "config.yaml"
    config.write_text(dump(settings))
    command = ["--config", str(config), "clips", "retry", "--url", served, "--json"]

    refused = CliRunner().invoke(cli, [*command, "--token", device_token])
    assert refused.exit_code != 0 and "403" in refused.output

    first = CliRunner().invoke(cli, [*command, "--device", "pi-01", "--since", "1h", "--token", operator_token])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"requeued": 2, "clip_ids": failed_clips["pi-01"]}
    again = CliRunner().invoke(cli, [*command, "--status", "failed", "--token", operator_token])
    assert json.loads(again.output) == {"requeued": 1, "clip_ids": failed_clips["pi-02"]}
    plain = CliRunner().invoke(cli, [*command[:-1], "--token", operator_token])
    assert plain.exit_code == 0 and "re-queued 0 clip(s)" in plain.output
