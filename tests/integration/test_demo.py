"""`edgecloud demo` end to end: edge agent (mock PIR, real footage), controller,
worker processes, embedded AWS. Every clip must get a result."""

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

pytestmark = pytest.mark.slow


def assert_each_clip_says_where_and_why(report: dict) -> None:
    """The Pi, paced to a Pi's time, is busy with its first clip when the next ones come: both paths, each explained."""
    clips = report["clips"]
    assert report["pi_slowdown"] == 6
    assert clips[0]["placement"] == "edge"
    assert {c["placement"] for c in clips} == {"edge", "cloud"}
    on_pi = {c["clip_id"] for c in clips if c["placement"] == "edge"}
    for c in clips:
        assert (c["placement"] == "edge") == (c["processed_by"] == "edge"), c
        if c["placement"] == "edge":
            assert c["placement_reason"] == "the Pi was free", c
        else:  # busy with a clip the Pi took, for a while yet
            busy_with = c["placement_reason"].removeprefix("the Pi was busy with clip ").split()[0].rstrip(",")
            assert busy_with in on_pi and " estimated " in c["placement_reason"], c
    assert report["placements"] == {"edge": len(on_pi), "cloud": len(clips) - len(on_pi)}


def test_demo_processes_every_clip_on_edge_and_cloud(tmp_path, vtest_avi):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        ["demo", "--video", str(vtest_avi), "--clips", "6", "--json", str(out), "--workdir", str(tmp_path / "work")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    clips = report["clips"]
    assert len(clips) == 6
    assert len({c["clip_id"] for c in clips}) == 6
    for c in clips:
        assert c["status"] == "done", c
        assert c["trigger_to_result_s"] is not None and c["trigger_to_result_s"] >= 0
        assert c["labels"] is not None
    where = {c["processed_by"] == "edge" for c in clips}
    assert where == {True, False}, f"expected clips on both the edge and cloud workers: {clips}"
    assert_each_clip_says_where_and_why(report)
    assert all(c["processed_by"] == "edge" or c["processed_by"].startswith("i-") for c in clips)
    assert report["workers"]["launched"] >= 1
    for event in report["events"]:  # clips with tracked objects, grouped (none where no tracker ran)
        assert set(event) == {"event_id", "device_id", "clip_ids", "labels"} and event["device_id"] == "pi-01"
        assert set(event["clip_ids"]) <= {c["clip_id"] for c in clips} and event["labels"]
    assert report["workers"]["retired"] == report["workers"]["launched"]
    seen = set(",".join(c["labels"] for c in clips).split(","))
    # YOLOv3-tiny on the Pi and the workers: the walkers, and the van and car parked at the top of the path.
    assert {c["detector"] for c in clips} == {"darknet:yolov3-tiny"}
    assert "person" in seen and seen & {"car", "truck"}
    assert "edgecloud demo (darknet:yolov3-tiny)" in result.output
    assert (
        f"placed: {report['placements']['edge']} on the Pi, {report['placements']['cloud']} in the cloud"
        in result.output
        and "edge: the Pi was free" in result.output
    )


def test_demo_serve_reports_the_dashboard_then_serves_until_interrupted(tmp_path, vtest_avi):
    """--serve: the report (with the dashboard and each clip's snapshot link) is written before
    serving; the login link works once; SIGINT stops every process the demo started."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import requests

    out = tmp_path / "report.json"
    # The dashboard, not placement, is under test here: the Pi keeps this machine's pace.
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgecloud.cli",
            "demo",
            "--video",
            str(vtest_avi),
            "--clips",
            "2",
            "--policy",
            "fastest-finish",
            "--pi-slowdown",
            "1",
            "--serve",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path / "w"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        for line in demo.stdout:  # the report is written before "dashboard:" is printed
            lines.append(line)
            if line.startswith("dashboard: "):
                break
        report = json.loads(out.read_text())
        url, login = report["dashboard"]["url"], report["dashboard"]["login_url"]
        assert line.strip() == f"dashboard: {url}"
        assert all(requests.get(c["snapshot_url"], timeout=10).content[:3] == b"\xff\xd8\xff" for c in report["clips"])
        browser = requests.Session()
        assert browser.get(login, timeout=10).url == url + "events"  # the landing page
        assert "<h1>Events</h1>" in browser.get(url, timeout=10).text  # the root leads there too
        page = browser.get(url + "clips", timeout=10).text
        assert all(c["clip_id"] in page for c in report["clips"])
        assert requests.get(login, timeout=10).status_code == 401  # once only
        children = subprocess.run(["pgrep", "-g", str(demo.pid)], capture_output=True, text=True).stdout.split()
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in children):
            time.sleep(0.2)
        assert not any(os.path.exists(f"/proc/{pid}") for pid in children)
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
