"""Placement policies: pure decisions over measured history, no threads."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from edgecloud.edge.scheduler import (
    PRIOR_UPLOAD_TO_RESULT_S,
    BusyOffload,
    EscalateUncertain,
    FastestFinish,
    History,
    Situation,
    create_policy,
)
from edgecloud.edge.stats import ClipRecord
from edgecloud.protocol.messages import LabelSummary, Result

MB = 1_000_000


def test_busy_offload_is_the_seeds_rule():
    policy = BusyOffload()
    assert policy.place(Situation(clip_bytes=MB, local_waiting=0, local_s=100)) == "edge"
    assert policy.place(Situation(clip_bytes=MB, local_waiting=1, local_s=0.1)) == "cloud"


def test_each_placement_says_why():
    busy = Situation(
        clip_bytes=MB, local_waiting=2, local_s=6, busy_with="c1", busy_for_s=2, upload_bps=MB, upload_to_result_s=2
    )
    assert BusyOffload().reason(Situation(clip_bytes=MB), "edge") == "the Pi was free"
    # c1 has 4 of its 6 s to go, then one more clip queued behind it: 10 s.
    assert BusyOffload().reason(busy, "cloud") == (
        "the Pi was busy with clip c1 (2.0 s in) and 1 more queued, estimated finish in 10.0 s"
    )
    assert FastestFinish().reason(busy, "cloud") == (
        "the Pi was busy with clip c1 (2.0 s in) and 1 more queued, estimated finish in 10.0 s; "
        "estimated result in the cloud's 3.0 s, before the Pi's 18.0 s"
    )
    free = Situation(clip_bytes=MB, local_s=1, upload_bps=MB, upload_to_result_s=2)
    assert FastestFinish().reason(free, "edge") == (
        "the Pi was free; estimated result in the Pi's 1.0 s, no later than the cloud's 3.0 s"
    )
    assert "every clip on the Pi first" in EscalateUncertain(0.6).reason(free, "edge")


def test_a_clip_over_its_estimate_is_said_to_be_late():
    late = Situation(clip_bytes=MB, local_waiting=1, local_s=2, busy_with="c1", busy_for_s=5)
    assert late.pi_free_in_s == 0
    assert late.pi_state() == "the Pi was busy with clip c1 (5.0 s in), past its estimated 2.0 s"
    late = Situation(clip_bytes=MB, local_waiting=3, local_s=2, busy_with="c1", busy_for_s=5)
    assert late.pi_state() == (
        "the Pi was busy with clip c1 (5.0 s in) and 2 more queued, past its estimated "
        "2.0 s, the rest estimated to finish in 4.0 s"
    )


def test_an_estimate_before_any_clip_was_timed_says_it_is_a_guess():
    history = History()
    situation = Situation.now(history, MB, local_waiting=1, upload_waiting_bytes=0, busy_with=("c1", 1.0))
    assert situation.pi_state() == (
        "the Pi was busy with clip c1 (1.0 s in), estimated finish in 4.0 s (a guess: no clip timed on this Pi yet)"
    )
    history.observe_local(30.0)
    situation = Situation.now(history, MB, local_waiting=2, upload_waiting_bytes=0)
    assert situation.pi_state() == "the Pi was beginning a clip and 1 more queued, estimated finish in 60.0 s"


@pytest.mark.parametrize(
    "situation, where",
    [
        # A free but slow Pi loses to a quick cloud: 10 s here, 1 + 2 s there.
        (Situation(clip_bytes=MB, local_waiting=0, local_s=10, upload_bps=MB, upload_to_result_s=2), "cloud"),
        # A busy Pi that is quick still wins: (1 + 1) x 1 s against 1 + 2 s.
        (Situation(clip_bytes=MB, local_waiting=1, local_s=1, upload_bps=MB, upload_to_result_s=2), "edge"),
        # Uploads already queued count against the cloud: (5 + 1) MB at 1 MB/s + 2 s > 3 x 2 s.
        (
            Situation(
                clip_bytes=MB,
                local_waiting=2,
                local_s=2,
                upload_waiting_bytes=5 * MB,
                upload_bps=MB,
                upload_to_result_s=2,
            ),
            "edge",
        ),
        # A tie stays on the Pi: no bandwidth spent.
        (Situation(clip_bytes=MB, local_waiting=0, local_s=3, upload_bps=MB, upload_to_result_s=2), "edge"),
    ],
)
def test_fastest_finish_picks_the_earlier_estimate(situation, where):
    assert FastestFinish().place(situation) == where


def test_escalate_uncertain_processes_locally_and_escalates_low_confidence():
    policy = create_policy("escalate-uncertain", escalate_below=0.6)
    assert isinstance(policy, EscalateUncertain)
    assert policy.place(Situation(clip_bytes=MB, local_waiting=5)) == "edge"

    def result(score=None, status="done"):
        summary = {} if score is None else {"person": LabelSummary(max_count=1, frames_seen=1, best_score=score)}
        return Result(
            clip_id="20261124T113500123Z_pi-01_3fa9c2d1",
            processed_by="edge",
            detector="hog",
            status=status,
            summary=summary,
        )

    assert policy.escalate(result(0.4)) and policy.escalate(result(status="failed"))
    assert not policy.escalate(result(0.9)) and not policy.escalate(result())
    with pytest.raises(ValueError, match="unknown policy"):
        create_policy("random")


def test_history_blends_recent_measurements_and_takes_the_later_upload_to_result():
    history = History(alpha=0.5)
    assert history.cloud_upload_to_result() == PRIOR_UPLOAD_TO_RESULT_S
    history.observe_local(4.0)
    history.observe_local(2.0)
    assert history.local_s == pytest.approx(3.0)
    history.observe_upload(2 * MB, 2.0)
    assert history.upload_bps == pytest.approx(MB)
    history.observe_upload_to_result(3.0)
    assert history.cloud_upload_to_result() == 3.0
    history.controller_upload_to_result_s = 1.0  # the cloud's own view; we see results later than that
    assert history.cloud_upload_to_result() == 3.0
    history.controller_upload_to_result_s = 4.0  # the cloud slowed down before we noticed
    assert history.cloud_upload_to_result() == 4.0
    situation = Situation.now(history, clip_bytes=MB, local_waiting=1, upload_waiting_bytes=MB)
    assert situation.local_finish_s == pytest.approx(6.0) and situation.cloud_finish_s == pytest.approx(6.0)


def test_a_restarted_agent_remembers_its_history_from_the_stats():
    t = datetime(2026, 11, 24, tzinfo=timezone.utc)
    records = [
        ClipRecord("a", placement="edge", local_s=2.0),
        ClipRecord(
            "b", placement="cloud", bytes_sent=MB, upload_s=0.5, uploaded_at=t, result_at=t + timedelta(seconds=4)
        ),
    ]
    history = History.from_records(records)
    assert (history.local_s, history.upload_bps, history.upload_to_result_s) == (2.0, 2 * MB, 4.0)


def burst_finish(policy, arrivals_every=2.0, clips=10, local_s=4.0, upload_s=0.5, upload_to_result_s=3.0):
    """A small model of a burst: clips every ``arrivals_every`` s, one Pi, an elastic cloud."""
    pi_free_at, upload_free_at, finish = 0.0, 0.0, 0.0
    for i in range(clips):
        now = i * arrivals_every
        waiting = math.ceil((pi_free_at - now) / local_s) if pi_free_at > now else 0  # clips still on the Pi
        situation = Situation(
            clip_bytes=MB,
            local_waiting=waiting,
            local_s=local_s,
            upload_bps=MB / upload_s,
            upload_waiting_bytes=int(max(0.0, upload_free_at - now) / upload_s * MB),
            upload_to_result_s=upload_to_result_s,
        )
        if policy.place(situation) == "edge":
            pi_free_at = max(pi_free_at, now) + local_s
            finish = max(finish, pi_free_at)
        else:
            upload_free_at = max(upload_free_at, now) + upload_s
            finish = max(finish, upload_free_at + upload_to_result_s)
    return finish


@pytest.mark.parametrize("local_s, upload_to_result_s", [(4.0, 3.0), (1.0, 3.0), (8.0, 1.0), (2.5, 2.0), (3.0, 10.0)])
def test_fastest_finish_ends_a_burst_no_later_than_busy_offload(local_s, upload_to_result_s):
    ours = burst_finish(FastestFinish(), local_s=local_s, upload_to_result_s=upload_to_result_s)
    seed = burst_finish(BusyOffload(), local_s=local_s, upload_to_result_s=upload_to_result_s)
    assert ours <= seed


def test_the_cloud_estimate_counts_the_controllers_queue_and_our_clips_since():
    history = History()
    history.controller_upload_to_result_s = 2.0
    assert Situation.now(history, MB, 0, 0).upload_to_result_s == 2.0
    assert history.upload_to_result_s is None
    history.observe_cloud_queue(waiting=4, running=2, process_s=1.5)  # 4 jobs, 2 workers: 3 s of queue
    assert Situation.now(history, MB, 0, 0).upload_to_result_s == pytest.approx(5.0)
    history.note_offload()
    history.note_offload()
    assert Situation.now(history, MB, 0, 0).upload_to_result_s == pytest.approx(6.5)
    history.observe_cloud_queue(waiting=0, running=0, process_s=1.5)  # a fresh report replaces our count
    assert Situation.now(history, MB, 0, 0).upload_to_result_s == 2.0
