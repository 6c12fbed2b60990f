"""Settings: defaults, the YAML file, environment overrides, and errors that name the key."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from edgecloud import config
from edgecloud.cli import cli

REPO = Path(__file__).resolve().parent.parent


def test_repo_config_yaml_loads_and_documents_every_setting():
    text = (REPO / "config.yaml").read_text()
    settings = config.load(REPO / "config.yaml", environ={})
    # Every field of every section appears in config.yaml, so the file documents them all.
    for section_name, section in settings:
        assert f"\n{section_name}:" in "\n" + text, section_name
        for field in type(section).model_fields:
            assert f"  {field}:" in text, f"{section_name}.{field} is not documented in config.yaml"


def test_environment_overrides_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("autoscaler:\n  max_workers: 5\nedge:\n  device_id: pi-07\n")
    s = config.load(
        path, environ={"EDGECLOUD_AUTOSCALER__MAX_WORKERS": "3", "EDGECLOUD_AWS__ENDPOINT_URL": "http://127.0.0.1:5000"}
    )
    assert s.autoscaler.max_workers == 3
    assert s.edge.device_id == "pi-07"
    assert s.aws.endpoint_url == "http://127.0.0.1:5000"


def test_config_path_from_environment(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("worker:\n  idle_timeout: 12\n")
    assert config.load(environ={"EDGECLOUD_CONFIG": str(path)}).worker.idle_timeout == 12


@pytest.mark.parametrize(
    "yaml_text, key",
    [
        ("edge:\n  clip_seconds: -1\n", "edge.clip_seconds"),
        ("autoscaler:\n  max_workerz: 3\n", "autoscaler.max_workerz"),
        ("fleet:\n  backend: kubernetes\n", "fleet.backend"),
        ("queues:\n  max_receive: lots\n", "queues.max_receive"),
        ("edge:\n  device_id: 'Pi 01/..'\n", "edge.device_id"),
        ("nonsense: 1\n", "nonsense"),
        ("zones:\n  devices: {pi-01: {door: [[0, 0], [1, 0]]}}\n", "zones.devices"),  # two points: no polygon
        ("zones:\n  devices: {pi-01: {door: [[0, 0], [1, 0], [1, 1.5]]}}\n", "zones.devices"),  # off the frame
        ("zones:\n  devices: {'Pi 01': {door: [[0, 0], [1, 0], [1, 1]]}}\n", "zones.devices"),  # no device id
        ("events:\n  gap_s: 0\n", "events.gap_s"),
    ],
)
def test_bad_setting_names_the_key(tmp_path, yaml_text, key):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(config.ConfigError, match=key.replace(".", r"\.")):
        config.load(path, environ={})


def test_zones_are_read_per_device(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("zones:\n  devices:\n    pi-01:\n      driveway: [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]\n")
    zones = config.load(path, environ={}).zones
    assert zones.of("pi-01") == {"driveway": [(0, 0.6), (1, 0.6), (1, 1), (0, 1)]} and zones.of("pi-02") == {}


def test_bad_env_value_names_the_key():
    with pytest.raises(config.ConfigError, match=r"worker\.idle_timeout"):
        config.load(environ={"EDGECLOUD_WORKER__IDLE_TIMEOUT": "0"})


@pytest.mark.parametrize("text", ["- just\n- a list\n", "edge: [unclosed\n"])
def test_malformed_file_is_a_clear_error(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(config.ConfigError, match="c.yaml"):
        config.load(path, environ={})


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load(tmp_path / "absent.yaml", environ={})


def test_dump_round_trips(tmp_path):
    s = config.from_dict({"fleet": {"backend": "ec2", "subnet_ids": ["subnet-1"]}})
    path = tmp_path / "out.yaml"
    path.write_text(config.dump(s))
    assert config.load(path, environ={}) == s


def test_cli_fails_at_start_naming_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("controller:\n  port: 99999\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "show"])
    assert result.exit_code == 1
    assert "controller.port" in result.output


def test_cli_config_check(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("worker:\n  idle_timeout: 5\n")
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
