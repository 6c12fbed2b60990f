"""Fleet backends against in-process moto: local (processes + EC2 registration), ec2, asg."""

from __future__ import annotations

import base64
import sys
import time

import pytest
import yaml
from botocore.stub import ANY, Stubber

from edgecloud.config import ConfigError
from edgecloud.controller.fleet import create_fleet
from edgecloud.controller.fleet.asg import AsgFleet
from edgecloud.controller.fleet.ec2 import Ec2Fleet
from edgecloud.controller.fleet.local import LocalFleet
from edgecloud.worker.retirers import AsgRetirer

# Stands in for `edgecloud worker run` where moto is in-process (a child could not reach it).
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def instance(aws, instance_id):
    return aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def tags(inst):
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


def an_ami(aws):
    return aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


@pytest.mark.slow
def test_local_fleet_registers_spawns_counts_and_stops(settings, mocked_aws):
    aws, _ = mocked_aws
    fleet = LocalFleet(settings, aws, command=SLEEPER)
    try:
        ids = fleet.launch(2)
        assert len(ids) == 2 and fleet.count() == 2 and sorted(ids) == fleet.ids()
        assert set(fleet.processes()) == set(ids)
        inst = instance(aws, ids[0])
        assert tags(inst)["edgecloud:fleet"] == settings.fleet.name and tags(inst)["edgecloud:role"] == "worker"
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        config = yaml.safe_load(fleet.config_path.read_text())
        assert config["queues"]["jobs"] == settings.queues.jobs

        # A worker retires by terminating its own instance: it stops counting at once.
        aws.ec2.terminate_instances(InstanceIds=[ids[0]])
        assert fleet.count() == 1 and fleet.ids() == [ids[1]]
    finally:
        fleet.close(timeout=10)
    assert fleet.processes() == {} and fleet.count() == 0


@pytest.mark.slow
def test_local_fleet_terminates_the_instance_of_a_dead_worker(settings, mocked_aws):
    aws, _ = mocked_aws
    fleet = LocalFleet(settings, aws, command=[sys.executable, "-c", "raise SystemExit(3)"])
    try:
        (instance_id,) = fleet.launch(1)
        fleet._children[instance_id].wait(30)
        assert fleet.reap() == {instance_id: 3}
        assert fleet.count() == 0
        assert instance(aws, instance_id)["State"]["Name"] in {"shutting-down", "terminated"}
    finally:
        fleet.close()


@pytest.mark.slow
def test_local_worker_gets_its_instance_id_and_config(settings, mocked_aws, tmp_path):
    aws, _ = mocked_aws
    out = tmp_path / "env.txt"
    probe = [
        sys.executable,
        "-c",
        "import os, sys; open(sys.argv[1], 'w').write(os.environ['EDGECLOUD_WORKER__INSTANCE_ID'] + ' '"
        " + os.environ['EDGECLOUD_CONFIG'])",
        str(out),
    ]
    fleet = LocalFleet(settings, aws, command=probe)
    try:
        (instance_id,) = fleet.launch(1)
        fleet._children[instance_id].wait(30)
    finally:
        fleet.close()
    assert out.read_text() == f"{instance_id} {fleet.config_path}"


def test_ec2_request_has_imdsv2_tags_and_user_data(settings, mocked_aws):
    aws, _ = mocked_aws
    vpc = aws.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = aws.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = aws.ec2.create_security_group(GroupName="workers", Description="w", VpcId=vpc)["GroupId"]
    settings.fleet.backend = "ec2"
    settings.fleet.ami_id = an_ami(aws)
    settings.fleet.subnet_ids = [subnet]
    settings.fleet.security_group_ids = [group]
    settings.worker.instance_id = "i-controller-own"  # must not leak into the workers' config
    fleet = create_fleet(settings, aws)
    assert isinstance(fleet, Ec2Fleet)

    ids = fleet.launch(3)
    assert len(ids) == 3 and fleet.count() == 3 and fleet.ids() == sorted(ids)
    inst = instance(aws, ids[0])
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert tags(inst)["edgecloud:fleet"] == settings.fleet.name and tags(inst)["edgecloud:role"] == "worker"
    assert inst["SubnetId"] == subnet and inst["InstanceType"] == settings.fleet.instance_type
    raw = aws.ec2.describe_instance_attribute(InstanceId=ids[0], Attribute="userData")["UserData"]["Value"]
    user_data = base64.b64decode(raw).decode()
    assert user_data.startswith("#cloud-config\n")
    doc = yaml.safe_load(user_data)
    (written,) = doc["write_files"]
    assert written["path"] == settings.fleet.worker_config_path
    worker_config = yaml.safe_load(written["content"])
    assert worker_config["worker"]["instance_id"] is None
    assert worker_config["queues"]["jobs"] == settings.queues.jobs

    aws.ec2.terminate_instances(InstanceIds=ids[:2])
    assert fleet.count() == 1


def test_ec2_spot_falls_back_to_on_demand(settings, mocked_aws):
    aws, _ = mocked_aws
    settings.fleet.backend = "ec2"
    settings.fleet.launch_template = "edgecloud-worker"
    settings.fleet.spot = True
    fleet = Ec2Fleet(settings, aws)
    spot = fleet.request(2, spot=True)
    assert spot["InstanceMarketOptions"]["MarketType"] == "spot"
    assert spot["LaunchTemplate"] == {"LaunchTemplateName": "edgecloud-worker", "Version": "$Default"}
    on_demand = fleet.request(2, spot=False)
    assert "InstanceMarketOptions" not in on_demand
    expected_spot = {k: (ANY if k == "UserData" else v) for k, v in spot.items()}
    expected_on_demand = {k: (ANY if k == "UserData" else v) for k, v in on_demand.items()}
    with Stubber(aws.ec2) as stub:
        stub.add_client_error(
            "run_instances", service_error_code="InsufficientInstanceCapacity", expected_params=expected_spot
        )
        stub.add_response(
            "run_instances", {"Instances": [{"InstanceId": "i-0aaa"}, {"InstanceId": "i-0bbb"}]}, expected_on_demand
        )
        assert fleet.launch(2) == ["i-0aaa", "i-0bbb"]
        stub.assert_no_pending_responses()


def test_ec2_without_image_or_template_is_a_config_error(settings, mocked_aws):
    aws, _ = mocked_aws
    settings.fleet.backend = "ec2"
    with pytest.raises(ConfigError, match="launch_template or fleet.ami_id"):
        create_fleet(settings, aws)


@pytest.fixture
def group(settings, mocked_aws):
    """An Auto Scaling group of 0..3 workers, as infra/ would create it."""
    aws, _ = mocked_aws
    aws.ec2.create_launch_template(
        LaunchTemplateName="edgecloud-worker", LaunchTemplateData={"ImageId": an_ami(aws), "InstanceType": "t3.micro"}
    )
    aws.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="edgecloud-workers",
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateName": "edgecloud-worker", "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
    )
    settings.fleet.backend = "asg"
    settings.fleet.asg_name = "edgecloud-workers"
    return "edgecloud-workers"


def test_asg_fleet_raises_desired_capacity_within_max(settings, mocked_aws, group):
    aws, _ = mocked_aws
    fleet = create_fleet(settings, aws)
    assert isinstance(fleet, AsgFleet) and fleet.count() == 0
    ids = fleet.launch(2)
    assert len(ids) == 2 and fleet.count() == 2 and fleet.ids() == sorted(ids)
    fleet.launch(5)  # capped at the group's MaxSize
    assert (
        aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0][
            "DesiredCapacity"
        ]
        == 3
    )
    assert fleet.count() == 3 and fleet.launch(1) == []


def test_asg_counts_capacity_not_yet_launched_as_pending():
    group = {
        "DesiredCapacity": 4,
        "Instances": [
            {"InstanceId": "i-1", "LifecycleState": "InService"},
            {"InstanceId": "i-2", "LifecycleState": "Pending"},
            {"InstanceId": "i-3", "LifecycleState": "Terminating"},
        ],
    }
    assert AsgFleet._states(group) == {"pending": 3, "running": 1}


def test_asg_worker_protects_itself_then_leaves_decrementing_capacity(settings, mocked_aws, group):
    aws, _ = mocked_aws
    fleet = AsgFleet(settings, aws)
    first, second = fleet.launch(2)
    retirer = AsgRetirer(aws, first, group)
    retirer.protect(True)
    members = aws.autoscaling.describe_auto_scaling_instances(InstanceIds=[first])["AutoScalingInstances"]
    assert members[0]["ProtectedFromScaleIn"] is True
    retirer.protect(False)
    retirer.retire()
    described = aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert described["DesiredCapacity"] == 1
    assert fleet.ids() == [second]


@pytest.mark.slow
def test_local_fleet_asks_a_busy_worker_twice_before_killing_it(settings, mocked_aws, tmp_path):
    aws, _ = mocked_aws
    ready, out = tmp_path / "ready", tmp_path / "signals.txt"
    # A stand-in for a worker mid-job: the first TERM means "finish", the second "hand the job back".
    busy = [
        sys.executable,
        "-c",
        (
            "import signal, sys, time, pathlib\n"
            "seen = []\n"
            "def on_term(*_):\n"
            "    seen.append('TERM')\n"
            "    if len(seen) == 2:\n"
            "        pathlib.Path(sys.argv[2]).write_text(' '.join(seen)); sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, on_term)\n"
            "pathlib.Path(sys.argv[1]).write_text('ready')\n"
            "while True: time.sleep(0.05)\n"
        ),
        str(ready),
        str(out),
    ]
    fleet = LocalFleet(settings, aws, command=busy)
    (instance_id,) = fleet.launch(1)
    child = fleet._children[instance_id]
    for _ in range(600):
        if ready.exists() or child.poll() is not None:
            break
        time.sleep(0.05)  # the child's own start-up; no event crosses the process boundary
    assert ready.exists()
    fleet.close(timeout=0.5)
    assert child.returncode == 0 and out.read_text() == "TERM TERM"
