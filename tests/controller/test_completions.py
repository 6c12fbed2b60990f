"""The completions consumer and the dead-letter drain, one pass at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.completions import CompletionsConsumer
from edgecloud.controller.ledger import Ledger
from edgecloud.controller.resources import make_parts
from edgecloud.controller.store import ClipStore
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import Completion, Job, Result


@pytest.fixture
def parts(settings, mocked_aws, tmp_path):
    aws, queues = mocked_aws
    ledger = Ledger.in_dir(tmp_path)
    store = ClipStore(aws, queues, settings)
    consumer = CompletionsConsumer(
        make_parts(settings, aws=aws, queues=queues, ledger=ledger, store=store), wait_seconds=0
    )
    yield aws, queues, ledger, store, consumer
    ledger.close()


def send(aws, url, message):
    aws.sqs.send_message(QueueUrl=url, MessageBody=message if isinstance(message, str) else message.model_dump_json())


def queue_size(aws, url):
    attrs = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_started_then_done_updates_the_ledger_and_deletes_messages(parts):
    aws, queues, ledger, _, consumer = parts
    clip_id = new_clip_id("pi-01")
    submitted = utcnow()
    ledger.add(clip_id, "pi-01", "queued", submitted)
    send(
        aws,
        queues.completions,
        Completion(event="started", clip_id=clip_id, processed_by="i-1", at=submitted + timedelta(seconds=1)),
    )
    send(
        aws,
        queues.completions,
        Completion(
            event="done", clip_id=clip_id, processed_by="i-1", at=submitted + timedelta(seconds=6), process_s=4.2
        ),
    )
    send(aws, queues.completions, "not json at all")
    total = {"started": 0, "done": 0, "malformed": 0, "deleted": 0}
    while sum(total.values()) < 6:
        counts = consumer.poll_once()
        if not counts.deleted:
            break
        for key in total:
            total[key] += getattr(counts, key)
    assert total == {"started": 1, "done": 1, "malformed": 1, "deleted": 3}
    row = ledger.get(clip_id)
    assert (row.status, row.processed_by, row.upload_to_result_s, row.process_s) == ("done", "i-1", 6.0, 4.2)
    assert queue_size(aws, queues.completions) == 0


def test_failed_completion_records_the_results_error(parts):
    aws, queues, ledger, store, consumer = parts
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    store.results.put(
        Result(
            clip_id=clip_id, status="failed", error="clip has no decodable frames", processed_by="i-2", detector="hog"
        )
    )
    send(aws, queues.completions, Completion(event="failed", clip_id=clip_id, processed_by="i-2"))
    assert consumer.poll_once().failed == 1
    row = ledger.get(clip_id)
    assert row.status == "failed" and row.error == "clip has no decodable frames"


def dead_letter(aws, queues, settings, job: Job):
    """Receive a job max_receive times without finishing it, as crashing workers would."""
    send(aws, queues.jobs, job)
    for _ in range(settings.queues.max_receive):
        got = aws.sqs.receive_message(QueueUrl=queues.jobs, VisibilityTimeout=0, WaitTimeSeconds=0)
        assert got.get("Messages"), "job should still be in the queue"
    # The next receive finds it over the limit and moves it to the dead-letter queue.
    assert not aws.sqs.receive_message(QueueUrl=queues.jobs, WaitTimeSeconds=0).get("Messages")


def make_job(settings, clip_id):
    now = utcnow()
    return Job(
        clip_id=clip_id,
        bucket=settings.storage.clips_bucket,
        key=f"clips/{clip_id}.mp4",
        device_id="pi-01",
        recorded_at=now,
        submitted_at=now,
    )


def test_dead_lettered_job_ends_with_a_failed_result(parts, settings):
    aws, queues, ledger, store, consumer = parts
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    dead_letter(aws, queues, settings, make_job(settings, clip_id))

    counts = consumer.drain_dead_letters()
    assert (counts.dead_lettered, counts.deleted) == (1, 1)
    result = store.results.get(clip_id)
    assert result.status == "failed"
    assert result.error.startswith(f"dead-lettered after {settings.queues.max_receive} receives: ")
    row = ledger.get(clip_id)
    assert row.status == "failed" and row.error == result.error
    assert queue_size(aws, queues.dead_letter) == 0


def test_dead_letter_keeps_a_result_a_worker_already_wrote(parts, settings):
    aws, queues, ledger, store, consumer = parts
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    store.results.put(
        Result(clip_id=clip_id, processed_by="i-3", detector="hog", labels="person", finished_at=utcnow())
    )
    dead_letter(aws, queues, settings, make_job(settings, clip_id))
    assert consumer.drain_dead_letters().dead_lettered == 1
    assert store.results.get(clip_id).labels == "person"
    assert ledger.get(clip_id).status == "done"


def test_consumer_thread_stops_on_request(parts):
    aws, queues, ledger, _, consumer = parts
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    send(aws, queues.completions, Completion(event="done", clip_id=clip_id, processed_by="i-1"))
    consumer.start()
    thread = consumer._thread
    row = ledger.wait_final(clip_id, timeout=30)
    consumer.stop()
    assert row.status == "done" and not thread.is_alive()
    assert consumer._thread is None


def test_dead_letter_never_overwrites_a_result_a_late_worker_writes_meanwhile(parts, settings):
    aws, queues, ledger, store, consumer = parts
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    dead_letter(aws, queues, settings, make_job(settings, clip_id))
    real_get = store.results.get
    looks = []

    def worker_writes_just_after_the_first_look(cid):
        seen = real_get(cid)
        if not looks:
            store.results.put(
                Result(clip_id=cid, processed_by="i-late", detector="hog", labels="person", finished_at=utcnow())
            )
        looks.append(seen)
        return seen

    store.results.get = worker_writes_just_after_the_first_look
    assert consumer.drain_dead_letters().dead_lettered == 1
    assert real_get(clip_id).labels == "person" and real_get(clip_id).processed_by == "i-late"
    assert ledger.get(clip_id).status == "done"


def test_a_crash_between_the_failed_result_and_the_ledger_is_healed_by_redelivery(parts, settings):
    aws, queues, ledger, store, consumer = parts
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    dead_letter(aws, queues, settings, make_job(settings, clip_id))
    real_mark, real_receive = ledger.mark_finished, consumer._receive
    received = []

    def crash(*args, **kwargs):
        raise RuntimeError("controller killed")

    def receive(url, wait_seconds):
        received.extend(real_receive(url, wait_seconds))
        return received[-1:]

    consumer._receive = receive

    ledger.mark_finished = crash
    with pytest.raises(RuntimeError):
        consumer.drain_dead_letters()
    ledger.mark_finished = real_mark
    assert store.results.get(clip_id).status == "failed" and ledger.get(clip_id).status == "queued"
    # The dead letter was not deleted: it comes back after its visibility timeout.
    assert queue_size(aws, queues.dead_letter) == 1
    aws.sqs.change_message_visibility(
        QueueUrl=queues.dead_letter, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    consumer._receive = real_receive
    assert consumer.drain_dead_letters().dead_lettered == 1
    row = ledger.get(clip_id)
    assert row.status == "failed" and row.error.startswith("dead-lettered after")
    assert queue_size(aws, queues.dead_letter) == 0
