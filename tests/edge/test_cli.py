"""``edgecloud edge stats | install | simulate`` and the systemd unit."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner
from werkzeug.wsgi import get_input_stream

from edgecloud.cli import cli
from edgecloud.edge.install import UNIT_TEMPLATE
from edgecloud.edge.stats import StatsStore


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECLOUD_EDGE__SPOOL_DIR", str(tmp_path / "spool"))

    def run(*args):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_stats_prints_each_clips_round_trip(run_cli, tmp_path):
    store = StatsStore(tmp_path / "edge-stats.sqlite")  # beside the spool, where the agent keeps it
    t = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    clip_id = "20261124T120000000Z_pi-01_3fa9c2d1"
    store.record(clip_id, triggered_at=t, recorded_s=6.0, placement="cloud", bytes=900_000)
    store.record(clip_id, uploaded_at=t + timedelta(seconds=6.5), bytes_sent=400_000, bytes_saved=500_000)
    store.record(clip_id, result_at=t + timedelta(seconds=9.25), labels="person", status="done")

    [record] = json.loads(run_cli("edge", "stats", "--json"))
    assert record["clip_id"] == clip_id and record["placement"] == "cloud" and record["labels"] == "person"
    assert (
        record["trigger_to_upload_s"] == 6.5
        and record["trigger_to_result_s"] == 9.25
        and record["bytes_saved"] == 500_000
    )
    table = run_cli("edge", "stats")
    assert clip_id in table and "9.25" in table and "person" in table


def test_install_writes_a_unit_and_config_and_enables_the_service(run_cli, tmp_path):
    root = tmp_path / "root"
    dry = run_cli("edge", "install", "--root", str(root), "--dry-run")
    assert "would write" in dry and not root.exists()

    out = run_cli("edge", "install", "--root", str(root), "--controller", "http://controller:8080")
    unit = (root / "etc/systemd/system/edgecloud-edge.service").read_text()
    assert re.search(r"^Restart=on-failure$", unit, re.M)
    assert re.search(r"^User=edgecloud$", unit, re.M)
    assert re.search(r"^After=network-online\.target", unit, re.M) and "Wants=network-online.target" in unit
    assert re.search(r"^ExecStart=/\S+ edge run$", unit, re.M)
    config = (root / "etc/edgecloud/config.yaml").read_text()
    assert "controller_url: http://controller:8080" in config and "/var/lib/edgecloud/spool" in config
    assert "systemctl enable --now edgecloud-edge.service" in out
    again = run_cli("edge", "install", "--root", str(root))
    assert "kept existing" in again  # a person's edits to the config survive a reinstall


def test_install_refuses_root():
    from edgecloud.config import Settings
    from edgecloud.edge.install import install

    with pytest.raises(ValueError, match="root"):
        list(install(Settings(), user="root", dry_run=True))


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_the_unit_passes_systemd_analyze(tmp_path):
    from edgecloud.edge.install import render_unit

    unit = tmp_path / "edgecloud-edge.service"
    unit.write_text(render_unit("edgecloud", exec_start=shutil.which("true")))
    check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "Restart=on-failure" in UNIT_TEMPLATE.read_text()


def instant_cloud(environ, start_response):
    """A controller whose cloud answers at once: enough to exercise `edge simulate`."""
    path = environ["PATH_INFO"]
    if environ["REQUEST_METHOD"] == "POST":
        get_input_stream(environ).read()
        status, body = "201 Created", {"clip_id": "x", "status": "queued", "duplicate": False}
    elif path == "/v1/stats":
        status, body = "200 OK", {"upload_to_result_s": 0.2}
    else:
        clip_id = path.rsplit("/", 1)[1]
        status, body = "200 OK", {"clip_id": clip_id, "status": "done", "result": {"labels": "person"}}
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


@pytest.mark.slow
def test_simulate_prints_and_writes_per_policy_figures(run_cli, serve, vtest_avi, tmp_path):
    controller = serve(instant_cloud)
    out_path = tmp_path / "sim.json"
    out = run_cli(
        "edge",
        "simulate",
        "--video",
        str(vtest_avi),
        "--events",
        "2",
        "--controller",
        controller.url,
        "--speed",
        "10",
        "--json",
        str(out_path),
    )
    figures = json.loads(out_path.read_text())
    assert set(figures["policies"]) == {"busy-offload", "fastest-finish", "escalate-uncertain"}
    for name, f in figures["policies"].items():
        assert f["burst_finish_s"] > 0 and f["clips_local"] + f["clips_offloaded"] >= 2
        assert f["cloud_work_saved_pct"] == pytest.approx(100 * (1 - f["clips_offloaded"] / f["clips"]), abs=0.1)
        assert f["clips_escalated"] <= f["clips_offloaded"] and (
            name == "escalate-uncertain" or not f["clips_escalated"]
        )
        assert name in out and f"{f['burst_finish_s']:.2f} s" in out
    assert figures["calibration"]["local_s"] > 0


def test_install_puts_the_device_token_where_only_root_and_the_agent_read_it(run_cli, tmp_path):
    root, token = tmp_path / "root", "ecd_" + "k" * 43
    (tmp_path / "token.txt").write_text(token + "\n")
    out = run_cli(
        "edge", "install", "--root", str(root), "--device-id", "pi-07", "--token-file", str(tmp_path / "token.txt")
    )
    path = root / "etc/edgecloud/token"
    assert path.read_text() == token + "\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "would run: chown root:edgecloud /etc/edgecloud/token" in out  # a real install runs it
    config = yaml.safe_load((root / "etc/edgecloud/config.yaml").read_text())
    assert config["edge"]["token_file"] == "/etc/edgecloud/token" and config["edge"]["device_id"] == "pi-07"

    path.chmod(0o666)  # a reinstall with a new token tightens a loosened file too
    run_cli("edge", "install", "--root", str(root), "--token", "ecd_new")
    assert path.read_text() == "ecd_new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_install_without_a_token_says_the_controller_will_refuse(run_cli, tmp_path):
    out = run_cli("edge", "install", "--root", str(tmp_path / "root"))
    assert "no token at" in out and "401" in out


def test_stats_count_the_videos_the_spool_dropped_even_in_an_older_stats_file(run_cli, tmp_path):
    import sqlite3

    path = tmp_path / "edge-stats.sqlite"
    with sqlite3.connect(path) as old:  # as an agent from before video drops made it
        old.execute("CREATE TABLE clips (clip_id TEXT PRIMARY KEY, triggered_at TEXT, placement TEXT)")
        old.execute("INSERT INTO clips VALUES ('20261124T115900000Z_pi-01_0a0b0c0d', NULL, 'cloud')")
    store = StatsStore(path)
    clip_id = "20261124T120000000Z_pi-01_3fa9c2d1"
    store.record(
        clip_id,
        placement="edge",
        video_dropped_at=datetime(2026, 11, 24, 12, 1, tzinfo=timezone.utc),
        bytes_dropped=812_345,
    )
    assert store.videos_dropped() == (1, 812_345)

    records = {r["clip_id"]: r for r in json.loads(run_cli("edge", "stats", "--json"))}
    assert records[clip_id]["bytes_dropped"] == 812_345 and records[clip_id]["video_dropped_at"].startswith("2026")
    table = run_cli("edge", "stats")
    assert "812345 bytes" in table and "videos dropped by the spool" in table and ": 1, 812345 bytes" in table
