"""``edgecloud edge simulate``: the placement policies side by side on the same burst of events.

For each policy a fresh agent (its own spool and stats) plays the same video
with a mock PIR pin; ``events`` motions come one after another as fast as the
camera can take them (each as soon as the previous clip and its cooldown are
over). The burst finishes when every clip has a result: from the Pi, or seen
done at the controller (``GET /v1/clips/<id>?wait=``). Before the runs one
clip is timed on the Pi and one through the cloud, and every agent starts
from that same measured history (a running Pi's agent would have it).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

from gpiozero.pins.mock import MockFactory

from edgecloud.config import Settings
from edgecloud.protocol.states import Placement

from .agent import EdgeAgent
from .camera.file import FileCamera
from .scheduler import POLICIES, BusyOffload, History, create_policy

POLICY_NAMES = list(POLICIES)


def trigger_event(agent: EdgeAgent, pin, hold_s: float = 1.0, timeout: float = 120) -> str:
    """One motion on a mock PIR pin: wait until the recorder is free, hold the pin high for
    ``hold_s`` of camera time, and return the new clip's id once it is recorded."""
    recorder = agent.recorder
    if not recorder.wait_idle(timeout):
        raise TimeoutError("the recorder stayed busy")
    count = len(recorder.clips)
    pin.drive_high()
    try:
        if not recorder.wait_for(lambda r: r.state == "recording" or len(r.clips) > count, timeout):
            raise TimeoutError("the PIR did not start a clip")
        agent.camera.wait_until(agent.camera.now() + hold_s, timeout)
    finally:
        pin.drive_low()
    if not recorder.wait_for_clips(count + 1, timeout):
        raise TimeoutError("the clip did not finish")
    return recorder.clips[count].clip_id


def _settings_for(
    settings: Settings, workdir: Path, name: str, video: Path, url: str, speed: float, pi_slowdown: float
) -> Settings:
    edge = settings.edge.model_copy(
        update={
            "emulated_pi_slowdown": pi_slowdown,
            "spool_dir": workdir / name / "spool",
            "stats_path": workdir / name / "stats.sqlite",
            "controller_url": url,
            "camera": "file",
            "video": video,
            "playback_speed": speed,
            "device_id": f"sim-{name}"[:32],
            "policy": name if name in POLICIES else settings.edge.policy,
        }
    )
    return settings.model_copy(update={"edge": edge})


def _run_policy(
    settings: Settings, policy, events: int, history: Optional[History], timeout: float
) -> tuple[EdgeAgent, list[str]]:
    pins = MockFactory()
    camera = FileCamera(
        settings.edge.video, preroll_seconds=settings.edge.preroll_seconds, playback_speed=settings.edge.playback_speed
    )
    agent = EdgeAgent(settings, pin_factory=pins, camera=camera, policy=policy)
    if history is not None:
        for attr in ("local_s", "upload_bps", "upload_to_result_s"):
            setattr(agent.history, attr, getattr(history, attr))
    try:
        with agent:
            pin = pins.pin(settings.edge.pir_pin)
            ids = [trigger_event(agent, pin, timeout=timeout) for _ in range(events)]
            if not (agent.wait_idle(timeout) and agent.wait_results(timeout)):
                raise TimeoutError(f"{policy.name}: results still missing after {timeout:.0f} s")
    finally:
        pins.close()
    return agent, ids


def run_simulation(
    settings: Settings,
    *,
    video: Path,
    events: int,
    controller_url: Optional[str],
    policies: list[str],
    speed: float = 1.0,
    pi_slowdown: float = 1.0,
    timeout: float = 600,
    repeat: int = 1,
    echo: Callable[[str], None] = print,
) -> dict:
    url = controller_url or settings.edge.controller_url
    workdir = Path(tempfile.mkdtemp(prefix="edge-simulate-"))
    try:
        echo(
            f"calibrating: one clip on this machine{' (x%g)' % pi_slowdown if pi_slowdown > 1 else ''}, "
            f"one through {url}"
        )
        calibration = _calibrate(settings, workdir, video, url, speed, pi_slowdown, timeout)
        echo(f"  measured: {calibration!r}")
        figures = {
            "events": events,
            "video": str(video),
            "controller": url,
            "speed": speed,
            "pi_slowdown": pi_slowdown,
            "repeat": repeat,
            "calibration": {
                "local_s": calibration.local_s,
                "upload_bps": calibration.upload_bps,
                "upload_to_result_s": calibration.upload_to_result_s,
            },
            "policies": {},
        }
        runs: dict[str, list[dict]] = {name: [] for name in policies}
        for round_no in range(repeat):  # rounds interleave the policies, so drift hits them alike
            for name in policies:
                s = _settings_for(settings, workdir / f"round{round_no}", name, video, url, speed, pi_slowdown)
                figures_one = _measure(
                    s, create_policy(name, settings.edge.escalate_below), events, calibration, timeout
                )
                runs[name].append(figures_one)
                echo(
                    f"{name:>20}: burst of {events} finished in {figures_one['burst_finish_s']:.2f} s "
                    f"({figures_one['clips_local']} on the Pi, {figures_one['clips_offloaded']} to the cloud, "
                    f"{figures_one['clips_escalated']} of them escalated as uncertain; cloud detections saved "
                    f"{figures_one['cloud_work_saved_pct']:.0f}%; mean trigger to result "
                    f"{figures_one['mean_trigger_to_result_s']:.2f} s)"
                )
        for name, results in runs.items():
            ordered = sorted(results, key=lambda f: f["burst_finish_s"])
            median = ordered[(len(ordered) - 1) // 2]
            figures["policies"][name] = {**median, "runs": [f["burst_finish_s"] for f in results]}
        if repeat > 1:
            for name, f in figures["policies"].items():
                echo(f"{name:>20}: median burst finish {f['burst_finish_s']:.2f} s over {repeat} runs {f['runs']}")
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _measure(settings, policy, events, calibration, timeout) -> dict:
    agent, ids = _run_policy(settings, policy, events, calibration, timeout)
    records = [r for r in agent.stats.records() if r.clip_id in ids]
    first = min(r.triggered_at for r in records)
    finish = max((r.result_at - first).total_seconds() for r in records if r.result_at)
    placements = [r.placement for r in records]
    offloaded = sum(w in (Placement.CLOUD, Placement.BOTH) for w in placements)
    return {
        "burst_finish_s": round(finish, 3),
        "clips_local": sum(w in (Placement.EDGE, Placement.BOTH) for w in placements),
        "clips_offloaded": offloaded,
        # escalate-uncertain: the Pi's result was unsure (a label under edge.escalate_below),
        # so the cloud's model ran too
        "clips_escalated": sum(w == Placement.BOTH for w in placements),
        # against sending every clip to the cloud's model: the share of cloud detections never needed
        "cloud_work_saved_pct": round(100 * (1 - offloaded / len(records)), 1),
        "clips": len(records),
        "mean_trigger_to_result_s": round(sum(r.trigger_to_result_s for r in records) / len(records), 3),
    }


def _calibrate(settings, workdir, video, url, speed, pi_slowdown, timeout) -> History:
    """One clip processed on the Pi and one sent to the cloud: the history every run starts from."""

    class OneEach(BusyOffload):
        name = "calibrate"

        def __init__(self):
            self.count = 0

        def place(self, situation):
            self.count += 1
            return Placement.EDGE if self.count == 1 else Placement.CLOUD

    s = _settings_for(settings, workdir, "calibrate", video, url, speed, pi_slowdown)
    agent, _ = _run_policy(s, OneEach(), 2, None, timeout)
    return agent.history
