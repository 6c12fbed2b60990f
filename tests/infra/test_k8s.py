"""infra/k8s/: the manifests `edgecloud infra k8s` renders from the settings, checked in as its
output. Core objects are validated offline against Kubernetes' own schemas (kubernetes-validate);
KEDA's, whose CRDs it does not know, field by field against KEDA's documented fields."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.config import from_dict, load
from edgecloud.controller.simulate import build
from edgecloud.infra.kubernetes import ManifestError, Target, manifests, render
from edgecloud.worker.identity import on_kubernetes

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "k8s"
# The example account of AWS's documentation: the checked-in files are rendered with it.
EXAMPLE_ACCOUNT = "111122223333"
# A version EKS runs, whose schemas ship inside kubernetes-validate (no network).
KUBERNETES_VERSION = "1.33.0"
CORE = ("configmap.yaml", "serviceaccount.yaml", "deployment.yaml")

# KEDA v2's fields (keda.sh/v1alpha1) and the aws-sqs-queue scaler's metadata.
SCALED_OBJECT_SPEC = {
    "scaleTargetRef",
    "pollingInterval",
    "cooldownPeriod",
    "initialCooldownPeriod",
    "idleReplicaCount",
    "minReplicaCount",
    "maxReplicaCount",
    "fallback",
    "advanced",
    "triggers",
}
TRIGGER = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}
SQS_METADATA = {
    "queueURL",
    "queueURLFromEnv",
    "queueLength",
    "activationQueueLength",
    "awsRegion",
    "awsEndpoint",
    "identityOwner",
    "scaleOnInFlight",
    "scaleOnDelayed",
}


def settings_with(**sections):
    return from_dict(sections)


def objects(settings=None, **target) -> dict[str, dict]:
    return manifests(settings or from_dict({}), Target(target.pop("account_id", EXAMPLE_ACCOUNT), **target))


def test_the_checked_in_manifests_are_the_renderers_output():
    rendered = render(from_dict({}), Target(EXAMPLE_ACCOUNT))
    assert sorted(p.name for p in K8S.glob("*.yaml")) == sorted(rendered)
    stale = [name for name, text in rendered.items() if (K8S / name).read_text() != text]
    assert not stale, (
        f"{stale} differ from the settings: run `edgecloud infra k8s --out infra/k8s --account-id {EXAMPLE_ACCOUNT}`"
    )


@pytest.mark.parametrize("name", CORE)
def test_core_objects_pass_kubernetes_own_schema_offline(name):
    obj = yaml.safe_load((K8S / name).read_text())
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)  # strict: no unknown fields


def test_the_schema_check_can_fail():
    deployment = objects()["deployment.yaml"]
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 120  # a misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    del deployment["spec"]["template"]["spec"]["terminationGracePeriod"]
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["4Gi"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_scaled_object_field_by_field():
    found = {
        name: yaml.safe_load((K8S / name).read_text())
        for name in ("scaledobject.yaml", "deployment.yaml", "triggerauthentication.yaml")
    }
    scaled, deployment, auth = found["scaledobject.yaml"], found["deployment.yaml"], found["triggerauthentication.yaml"]
    assert (scaled["apiVersion"], scaled["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    spec = scaled["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC
    assert spec["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": deployment["kind"],
        "name": deployment["metadata"]["name"],
    }
    assert scaled["metadata"]["namespace"] == deployment["metadata"]["namespace"] == auth["metadata"]["namespace"]
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (30, 300)  # what `simulate --policies keda` models
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 19)  # scale to zero; autoscaler.max_workers
    (trigger,) = spec["triggers"]
    assert set(trigger) <= TRIGGER and trigger["type"] == "aws-sqs-queue"
    assert set(trigger["metadata"]) <= SQS_METADATA
    assert all(isinstance(v, str) for v in trigger["metadata"].values())  # KEDA's metadata is map[string]string
    url = urlparse(trigger["metadata"]["queueURL"])
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "sqs.us-east-1.amazonaws.com",
        f"/{EXAMPLE_ACCOUNT}/edgecloud-jobs",
    )
    assert trigger["metadata"]["awsRegion"] == "us-east-1"
    assert trigger["metadata"]["queueLength"] == "20"  # 60 s target latency / 3 s per clip
    assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
    assert (auth["apiVersion"], auth["kind"]) == ("keda.sh/v1alpha1", "TriggerAuthentication")
    assert auth["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "workload"}}


@pytest.mark.parametrize("target, process, per_replica", [(60, 3, "20"), (30, 10, "3"), (60, 120, "1")])
def test_queue_length_is_what_one_pod_finishes_within_the_target_latency(target, process, per_replica):
    settings = settings_with(autoscaler={"target_latency_s": target, "process_time_s": process})
    rendered = objects(settings)["scaledobject.yaml"]["spec"]["triggers"][0]["metadata"]["queueLength"]
    assert rendered == per_replica
    simulated = build("keda", settings.autoscaler, settings.worker)  # the simulator models the same scaler
    assert f"queueLength {per_replica}," in simulated.notes


def test_everything_follows_the_settings_and_the_target():
    settings = settings_with(
        aws={"region": "eu-west-1"},
        queues={"jobs": "cams-jobs", "visibility_timeout": 600},
        autoscaler={"max_workers": 40, "min_workers": 2},
        infra={"stack": "cams"},
    )
    found = objects(settings, account_id="210987654321", namespace="video", image="registry.example/w:7")
    pod = found["deployment.yaml"]["spec"]["template"]["spec"]
    # SIGTERM: the pod finishes its job; it is killed no sooner than a job's visibility timeout.
    assert pod["terminationGracePeriodSeconds"] == 600
    assert pod["containers"][0]["image"] == "registry.example/w:7"
    assert pod["serviceAccountName"] == found["serviceaccount.yaml"]["metadata"]["name"]
    assert (
        found["serviceaccount.yaml"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        == "arn:aws:iam::210987654321:role/cams-k8s-worker"
    )
    spec = found["scaledobject.yaml"]["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 40)
    assert spec["triggers"][0]["metadata"]["queueURL"] == "https://sqs.eu-west-1.amazonaws.com/210987654321/cams-jobs"
    assert {o["metadata"]["namespace"] for o in found.values()} == {"video"}
    assert objects()["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        f"{EXAMPLE_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/edgecloud-worker:"
    )


def test_the_pods_config_is_the_workers_as_a_pod(tmp_path):
    settings = settings_with(queues={"jobs": "cams-jobs"}, controller={"secret_key": "s" * 40})
    found = objects(settings)
    config = tmp_path / "config.yaml"
    config.write_text(found["configmap.yaml"]["data"]["config.yaml"])
    loaded = load(config, environ={})
    assert loaded.queues == settings.queues and loaded.detector == settings.detector
    assert on_kubernetes(loaded.worker, environ={}) and loaded.worker.instance_id is None
    assert "s" * 40 not in config.read_text()  # controller secrets stay out of the cluster
    mount = found["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "EDGECLOUD_CONFIG", "value": "/etc/edgecloud/config.yaml"} in mount["env"]
    assert any(m["mountPath"] == "/etc/edgecloud" for m in mount["volumeMounts"])


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(account_id="12345"), "12 digits"),
        (dict(namespace="Video_Cams"), "DNS label"),
    ],
)
def test_bad_targets_are_refused(bad, message):
    with pytest.raises(ManifestError, match=message):
        objects(**bad)


def test_keda_needs_a_replica_to_scale_to():
    with pytest.raises(ManifestError, match="max_workers"):
        objects(settings_with(autoscaler={"max_workers": 0}))


def test_the_command_writes_the_files_and_asks_sts_for_the_account(tmp_path, moto_account):
    out = tmp_path / "k8s"
    done = CliRunner().invoke(cli, ["infra", "k8s", "--out", str(out)])
    assert done.exit_code == 0, done.output
    found = yaml.safe_load((out / "serviceaccount.yaml").read_text())
    assert found["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::123456789012:")
    done = CliRunner().invoke(cli, ["infra", "k8s", "--out", str(out), "--account-id", "nope"])
    assert done.exit_code != 0 and "12 digits" in done.output


# -- the image ---------------------------------------------------------------------------------

DOCKERFILE = K8S / "Dockerfile"


def test_the_image_passes_hadolint(hadolint):
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_the_deployments_command_as_its_user():
    import dockerfile

    from edgecloud import __version__

    commands = dockerfile.parse_file(str(DOCKERFILE))  # Docker's own parser
    by_name = {c.cmd: c for c in commands}
    pod = objects()["deployment.yaml"]["spec"]["template"]["spec"]
    entrypoint = by_name["ENTRYPOINT"]
    assert (
        entrypoint.json and list(entrypoint.value) == pod["containers"][0]["command"]
    )  # exec form: PID 1 gets SIGTERM
    (script,) = entry_points(group="console_scripts", name=entrypoint.value[0])  # a real console script
    assert script.value == "edgecloud.cli:main"
    assert CliRunner().invoke(cli, list(entrypoint.value[1:]) + ["--help"]).exit_code == 0
    assert by_name["USER"].value[0].split(":")[0] == str(pod["securityContext"]["runAsUser"])
    sources = [src for c in commands if c.cmd == "COPY" for src in c.value[:-1]]
    assert sources == ["ami/requirements.lock", f"dist/edgecloud-{__version__}-py3-none-any.whl"]
    assert (REPO / sources[0]).is_file()  # the wheel is what `pip wheel --no-deps -w dist .` names
