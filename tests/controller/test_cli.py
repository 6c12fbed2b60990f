"""The controller's command line."""

from __future__ import annotations

from click.testing import CliRunner

from edgecloud.cli import cli


def test_serve_offers_its_options():
    outcome = CliRunner().invoke(cli, ["controller", "serve", "--help"])
    assert outcome.exit_code == 0
    for option in ("--host", "--port", "--ensure-resources", "--no-autoscale"):
        assert option in outcome.output


def test_status_says_when_no_controller_answers(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    outcome = CliRunner().invoke(cli, ["controller", "status", "--url", url])
    assert outcome.exit_code == 1 and url in outcome.output


def test_serve_refuses_a_fleet_it_cannot_launch(settings, tmp_path):
    from edgecloud.config import dump

    settings.fleet.backend = "ec2"  # neither a launch template nor an AMI
    config = tmp_path / "c.yaml"
    config.write_text(dump(settings))
    outcome = CliRunner().invoke(cli, ["--config", str(config), "controller", "serve"])
    assert outcome.exit_code == 1
    assert "fleet.launch_template or fleet.ami_id" in outcome.output
