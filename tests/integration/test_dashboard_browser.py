"""The dashboard in a real browser (Playwright driving Debian's chromium) against the real
controller (gunicorn in its own process) on the shared moto server.

Clips go in as a Pi sends them: the real footage, the pipeline's result and its snapshot.
Screenshots of each page are kept under the test's tmp dir (and copied to
$EDGECLOUD_SCREENSHOTS when set).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import requests

from edgecloud.aws import Aws
from edgecloud.config import DetectorSettings
from edgecloud.credentials import Registry
from edgecloud.detect import create_detector
from edgecloud.localcloud import ControllerProcess
from edgecloud.pipeline import analyse_clip
from edgecloud.protocol.ids import new_clip_id
from edgecloud.workers import NOT_READY, WorkerStates

pytestmark = pytest.mark.slow
# pi-01's zones: the walkers of the 5 s clip cross the lower right quarter.
ZONES = {
    "driveway": [(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)],
    "door": [(0, 0), (0.2, 0), (0.2, 0.6), (0, 0.6)],
}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def edge_analysis(vtest_mp4, tmp_path_factory):
    """A real edge result of the 5 s clip and its snapshot (made once; each upload re-ids it)."""
    settings = DetectorSettings()
    snap = tmp_path_factory.mktemp("snap") / "snapshot.jpg"
    result = analyse_clip(
        vtest_mp4,
        create_detector(settings),
        settings,
        clip_id=new_clip_id("pi-01"),
        processed_by="edge",
        snapshot_path=snap,
        zones=ZONES,
    )
    assert result.status == "done" and result.snapshot_key
    assert any("driveway" in o.zones for o in result.objects)  # tracked, and seen in a zone
    return result, snap.read_bytes()


@pytest.fixture
def browser():
    if not CHROMIUM.is_file():
        pytest.fail("chromium is missing: scripts/dev.sh installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    keep = os.environ.get("EDGECLOUD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)


def test_dashboard_in_a_browser(stack_settings, tmp_path, vtest_mp4, edge_analysis, browser, shots):
    result, snapshot = edge_analysis
    stack_settings.autoscaler.max_workers = 0  # edge clips only: no worker processes in this test
    stack_settings.zones.devices = {"pi-01": ZONES}
    registry = Registry(Aws(stack_settings.aws), stack_settings.tables.credentials)
    token = registry.add("operator", "tester")
    device_tokens = {device: registry.add("device", device) for device in ("pi-01", "pi-02")}

    def upload(device: str) -> str:
        clip_id = new_clip_id(device)
        edge = result.model_copy(update={"clip_id": clip_id, "recorded_at": clip_id.recorded_at})
        reply = requests.post(
            f"{url}/v1/clips",
            timeout=30,
            headers={"Authorization": f"Bearer {device_tokens[device]}"},
            data={
                "metadata": json.dumps({"clip_id": clip_id, "device_id": device, "fps": 10}),
                "result": edge.model_dump_json(),
            },
            files={
                "clip": (f"{clip_id}.mp4", vtest_mp4.read_bytes(), "video/mp4"),
                "snapshot": ("snapshot.jpg", snapshot, "image/jpeg"),
            },
        )
        assert reply.status_code == 201, reply.text
        return clip_id

    with ControllerProcess(stack_settings, tmp_path / "controller") as controller:
        url = controller.url
        run = [upload("pi-01"), upload("pi-02"), upload("pi-01")]
        # No console error and no page error on any page of any tab (the CSP blocks nothing the dashboard
        # uses, no 404 for a favicon or an image, no script error).
        problems = []

        def watched(tab):
            tab.on("console", lambda m: problems.append(f"{m.text} {m.location}") if m.type == "error" else None)
            tab.on("pageerror", lambda e: problems.append(str(e)))
            return tab

        page = watched(browser.new_page(viewport={"width": 1100, "height": 720}))

        # Login required: the Events page sends a stranger to the login page; the operator token gets in.
        first = page.goto(url + "/events")
        assert page.url == url + "/login?next=/events"
        headers = first.all_headers()
        assert "default-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
        page.screenshot(path=str(shots / "login.png"))
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")

        # Events are the landing page: one per device here (its clips follow each other within events.gap_s).
        page.wait_for_selector("tr.event")
        assert page.url == url + "/events"
        events = page.eval_on_selector_all("tr.event", "rows => rows.map(r => r.dataset.eventId)")
        assert events == [f"ev_{run[1]}", f"ev_{run[0]}"]  # newest first
        page.wait_for_function(
            "() => [...document.querySelectorAll('tr.event td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(shots / "events.png"))
        page.select_option("select[name=zone]", "driveway")
        page.select_option("select[name=device]", "pi-01")
        page.click(".filters button[type=submit]")
        page.wait_for_url("**zone=driveway**")
        assert page.eval_on_selector_all("tr.event", "rows => rows.map(r => r.dataset.eventId)") == [f"ev_{run[0]}"]

        # An event plays its clips in order: when the first ends, the next plays; the timeline follows.
        page.click(f'tr.event[data-event-id="ev_{run[0]}"] td[data-label=When] a')
        page.wait_for_selector("#event-video")
        assert page.eval_on_selector_all(".event-clip", "cs => cs.map(c => c.dataset.clipId)") == [run[0], run[2]]
        page.wait_for_function("() => document.querySelector('#event-video').readyState >= 1", timeout=15_000)
        assert page.get_attribute(".event-clip.playing", "data-clip-id") == run[0]
        page.evaluate(
            "() => { const v = document.querySelector('#event-video'); v.muted = true;"
            " v.currentTime = v.duration - 0.3; return v.play(); }"
        )
        page.wait_for_function(
            f"() => document.querySelector('.event-clip.playing').dataset.clipId === '{run[2]}'"
            " && document.querySelector('#event-video').currentTime > 0.5",
            timeout=15_000,
        )
        assert run[2] in page.eval_on_selector("#event-video", "v => v.currentSrc")
        head = page.eval_on_selector(".event-clip.playing svg .playhead", "l => +l.getAttribute('x1')")
        assert head > page.eval_on_selector(".event-clip.playing svg", "s => +s.dataset.x0")
        page.screenshot(path=str(shots / "event.png"), full_page=True)

        # The clips list shows every clip of the run, newest first, with a snapshot thumbnail.
        page.goto(url + "/clips")
        page.wait_for_selector("tr.clip")
        shown = page.eval_on_selector_all("tr.clip", "rows => rows.map(r => r.dataset.clipId)")
        assert shown == run[::-1]
        page.wait_for_function(
            "() => [...document.querySelectorAll('td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
        )

        # Refreshes download no snapshot again: each has one stable address, and shown images stay.
        images = []
        page.on("request", lambda r: images.append(r.url) if r.resource_type == "image" else None)
        for _ in range(3):  # three refreshes of the list: the first two are in place when the third arrives
            with page.expect_response(lambda r: "/fragments/clips" in r.url and r.ok):
                pass
        page.wait_for_function(
            "() => [...document.querySelectorAll('td.thumb img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        assert images == [], f"a refresh downloaded snapshots again: {images}"

        # A new clip appears without a reload.
        page.evaluate("window.notReloaded = true")
        late = upload("pi-02")
        page.wait_for_selector(f'tr.clip[data-clip-id="{late}"]', timeout=10_000)
        assert page.evaluate("window.notReloaded") is True
        page.screenshot(path=str(shots / "clips.png"))

        # Filters: by device, then a label nothing has.
        page.select_option("select[name=device]", "pi-02")
        page.click(".filters button[type=submit]")
        page.wait_for_url("**device=pi-02**")
        assert page.eval_on_selector_all("tr.clip", "rows => rows.map(r => r.dataset.clipId)") == [late, run[1]]
        page.fill("input[name=label]", "giraffe")  # a COCO label the footage never shows
        page.click(".filters button[type=submit]")
        page.wait_for_selector("td.empty")
        assert page.query_selector_all("tr.clip") == []

        # One clip: the video element loads its source from S3, the snapshot loads, the result is there.
        page.goto(f"{url}/clips/{run[0]}")
        page.wait_for_function("() => document.querySelector('#clip-video').readyState >= 1", timeout=15_000)
        assert page.eval_on_selector("#clip-video", "v => v.duration") > 4
        page.wait_for_function(
            "() => { const i = document.querySelector('#clip-snapshot'); return i.complete && i.naturalWidth === 768; }"
        )
        assert "person" in page.inner_text("table.seen")
        assert page.get_attribute(".event-link a", "href") == f"/events/ev_{run[0]}"  # the event it is part of
        page.screenshot(path=str(shots / "clip.png"), full_page=True)

        # A worker that cannot load its detector is listed with its reason.
        WorkerStates(Aws(stack_settings.aws), stack_settings.tables.workers).report(
            "i-0browser", NOT_READY, "detector darknet:yolov3-tiny cannot load: weights not found"
        )
        page.goto(f"{url}/fleet")
        page.wait_for_selector("svg.chart circle.edge")
        assert "i-0browser" in page.inner_text("table.not-ready") and "weights not found" in page.inner_text(
            "table.not-ready"
        )
        page.screenshot(path=str(shots / "fleet.png"), full_page=True)
        page.goto(f"{url}/devices")
        assert page.query_selector('tr[data-device="pi-02"]') is not None
        page.screenshot(path=str(shots / "devices.png"), full_page=True)

        # A device's zones over its latest snapshot, which loads from its stable address.
        page.click('tr[data-device="pi-01"] a')
        page.wait_for_url("**/devices/pi-01")
        latest = page.get_attribute("#device-zones image", "href")  # a failed load would be a console error
        assert latest == f"/snapshots/{run[2]}.jpg" and page.request.get(url + latest).ok
        zones = page.eval_on_selector_all("#device-zones g.zone", "gs => gs.map(g => g.dataset.zone)")
        assert zones == ["door", "driveway"]
        box = page.eval_on_selector('g[data-zone="driveway"] polygon', "p => p.getBBox().width")
        assert box == page.eval_on_selector("#device-zones", "s => s.viewBox.baseVal.width") / 2
        page.screenshot(path=str(shots / "device.png"), full_page=True)

        assert problems == []

        # Logging out ends the session: the cookie copied before it no longer opens a page.
        cookies = page.context.cookies()
        page.click("header form.logout button")
        page.wait_for_url("**/login**")
        copied = watched(browser.new_page())
        copied.context.add_cookies(cookies)
        copied.goto(url + "/fleet")
        assert "/login" in copied.url
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.wait_for_selector("tr.event")

        phone = watched(browser.new_page(viewport={"width": 390, "height": 844}))
        phone.context.add_cookies(page.context.cookies())
        phone.goto(url + "/clips")
        phone.wait_for_selector("tr.clip")
        # The phone layout stacks each clip's cells instead of a table wider than the screen.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 400
        phone.screenshot(path=str(shots / "clips-phone.png"))
        phone.goto(url + "/?device=pi-01")  # an old link: the Events page, its filter kept
        phone.wait_for_selector("tr.event")
        assert phone.url == url + "/events?device=pi-01"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 400
        phone.screenshot(path=str(shots / "events-phone.png"))
        assert problems == []
    assert {p.name for p in shots.glob("*.png")} >= {
        "login.png",
        "clips.png",
        "clip.png",
        "fleet.png",
        "devices.png",
        "device.png",
        "events.png",
        "event.png",
    }
