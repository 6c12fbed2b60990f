"""What ``edgecloud demo`` reports: each clip's result, where it was analysed and why, as JSON and as a table."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.console import Console
from rich.table import Table


def _trigger_to_result(status: dict, triggered_at: datetime | None) -> float | None:
    """Motion trigger on the Pi to result stored in the cloud: the round trip a user waits."""
    if status.get("finished_at") and triggered_at is not None:
        finished = datetime.fromisoformat(status["finished_at"].replace("Z", "+00:00"))
        return round((finished - triggered_at).total_seconds(), 2)
    return None


def build_report(clip_ids: list[str], statuses: dict[str, dict], counts: dict[str, int], records: dict) -> dict:
    """``records``: the Pi's stats (``ClipRecord``) by clip id: when each was triggered, where it was placed, why."""
    clips = []
    for clip_id in clip_ids:
        st = statuses.get(clip_id, {})
        result = st.get("result") or {}
        record = records.get(clip_id)
        clips.append(
            {
                "clip_id": clip_id,
                "status": st.get("status", "unknown"),
                "processed_by": st.get("processed_by") or result.get("processed_by"),
                "placement": record.placement if record else None,  # the Pi's choice: edge, cloud or both
                "placement_reason": record.placement_reason if record else None,
                "trigger_to_result_s": _trigger_to_result(st, record.triggered_at if record else None),
                "labels": result.get("labels", "") if result else None,
                "snapshot_url": st.get("snapshot_url"),
                "detector": result.get("detector") if result else None,
                "error": st.get("error"),
            }
        )
    launched = sum(counts.values())
    return {
        "clips": clips,
        "placements": dict(Counter(c["placement"] for c in clips if c["placement"])),
        "workers": {"launched": launched, "retired": counts.get("terminated", 0) + counts.get("shutting-down", 0)},
    }


def event_summaries(events: list[dict]) -> list[dict]:
    """The report's ``events``: each event (from ``GET /v1/events``) as its id, device, clips and labels,
    oldest first."""
    return [{k: e[k] for k in ("event_id", "device_id", "clip_ids", "labels")} for e in reversed(events)]


def print_report(report: dict, console: Console) -> None:
    detectors = sorted({c["detector"] for c in report["clips"] if c.get("detector")})
    table = Table(title=f"edgecloud demo ({', '.join(detectors) or 'no results'})")
    table.add_column("#", justify="right")
    table.add_column("clip", no_wrap=True)
    table.add_column("status")
    table.add_column("placed")
    table.add_column("processed by", no_wrap=True)
    table.add_column("trigger to result (s)", justify="right")
    table.add_column("labels", overflow="fold")  # never cut: the labels are the result
    numbers = {c["clip_id"]: f"#{n}" for n, c in enumerate(report["clips"], 1)}
    for c in report["clips"]:
        table.add_row(
            numbers[c["clip_id"]],
            c["clip_id"],
            c["status"],
            str(c.get("placement")),
            str(c["processed_by"]),
            str(c["trigger_to_result_s"]),
            c["labels"] or "",
        )
    console.print(table)
    console.print("why each clip went where:")
    for c in report["clips"]:
        why = c.get("placement_reason") or "not placed (no record on the Pi)"
        for clip_id, number in numbers.items():  # "busy with clip #1" reads better than its id
            why = why.replace(f"clip {clip_id}", f"clip {number}")
        console.print(f"  {numbers[c['clip_id']]} {c.get('placement')}: {why}", highlight=False, soft_wrap=True)
    w, f = report["workers"], report.get("function")
    engine = (
        f"function invocations: {f['invocations']}, cold starts: {f['cold_starts']} "
        f"(init {f['init_s_p50']} s), max concurrency {f['max_concurrency']}"
        if f
        else f"workers launched: {w['launched']}, retired: {w['retired']}"
    )
    placed = report.get("placements", {})
    pace = report.get("pi_slowdown")
    console.print(
        f"placed: {placed.get('edge', 0)} on the Pi, {placed.get('cloud', 0)} in the cloud"
        + (f", {placed['both']} on both" if placed.get("both") else "")
        + (f" (the emulated Pi paced {pace:g}x slower than this machine)" if pace and pace > 1 else "")
    )
    console.print(f"{engine}   (trigger to result: PIR trigger on the Pi to result stored in the cloud)")
