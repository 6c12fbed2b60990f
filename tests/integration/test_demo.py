"""`edgecloud demo` end to end: edge agent (mock PIR, real footage), controller,
worker processes, embedded AWS. Every clip must get a result."""
import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

pytestmark = pytest.mark.slow


def test_demo_processes_every_clip_on_edge_and_cloud(tmp_path, vtest_avi):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["demo", "--video", str(vtest_avi), "--clips", "6", "--json", str(out),
                                      "--workdir", str(tmp_path / "work")], catch_exceptions=False)
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
    assert all(c["processed_by"] == "edge" or c["processed_by"].startswith("i-") for c in clips)
    assert report["workers"]["launched"] >= 1
    assert report["workers"]["retired"] == report["workers"]["launched"]
    assert "person" in ",".join(c["labels"] for c in clips)
