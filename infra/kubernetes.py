"""``edgecloud infra k8s``: the worker on Kubernetes, rendered from the settings.

One object per file, so ``kubectl apply -f DIR`` takes them all: the worker's
``config.yaml`` (ConfigMap), its ServiceAccount (IAM roles for service accounts),
the Deployment, and KEDA's TriggerAuthentication and ScaledObject (the
``aws-sqs-queue`` scaler on the jobs queue). ``infra/k8s/`` holds them rendered
from the default settings; a test keeps that copy equal to this output, so the
files cannot drift from the settings they come from.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Optional

import yaml

from edgecloud import __version__, keda
from edgecloud.config import Settings

NAME = "edgecloud-worker"
CONFIG_DIR = "/etc/edgecloud"
# What a worker reads; the rest (controller secrets, edge settings) stays out of the cluster.
WORKER_SECTIONS = ("aws", "storage", "tables", "queues", "detector", "worker")
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "edgecloud"}
HEADER = (
    "# Rendered by `edgecloud infra k8s` from the settings (see infra/k8s/README.md);\n"
    "# change the settings and render again rather than editing this file.\n"
)

ACCOUNT_RE = re.compile(r"^\d{12}$")
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ManifestError(ValueError):
    """A value the manifests cannot be rendered with; the message says which."""


@dataclass(frozen=True)
class Target:
    """Where the manifests go: the AWS account (queue URL, role ARN, ECR image),
    the namespace, and optionally another image or IAM role name."""

    account_id: str
    namespace: str = "edgecloud"
    image: Optional[str] = None
    role_name: Optional[str] = None

    def __post_init__(self):
        if not ACCOUNT_RE.match(self.account_id):
            raise ManifestError(f"account id must be 12 digits, got {self.account_id!r}")
        if not NAMESPACE_RE.match(self.namespace):
            raise ManifestError(f"namespace must be a DNS label (a-z, 0-9, -), got {self.namespace!r}")
        if self.image is not None and not self.image.strip():
            raise ManifestError("image must not be empty")


def queue_url(settings: Settings, account_id: str) -> str:
    return f"https://sqs.{settings.aws.region}.amazonaws.com/{account_id}/{settings.queues.jobs}"


def image(settings: Settings, target: Target) -> str:
    """The image named, else the worker image in the account's ECR, tagged with this version."""
    return target.image or (f"{target.account_id}.dkr.ecr.{settings.aws.region}.amazonaws.com/{NAME}:{__version__}")


def role_arn(settings: Settings, target: Target) -> str:
    return f"arn:aws:iam::{target.account_id}:role/{target.role_name or settings.infra.stack + '-k8s-worker'}"


def worker_config(settings: Settings) -> str:
    """The worker's config.yaml: its sections only, as a pod (no instance of its own)."""
    sections = {name: getattr(settings, name).model_dump(mode="json") for name in WORKER_SECTIONS}
    sections["worker"] |= {"platform": "kubernetes", "instance_id": None, "retire": False}
    return yaml.safe_dump(sections, sort_keys=False)


def manifests(settings: Settings, target: Target) -> dict[str, dict[str, Any]]:
    """File name -> Kubernetes object, in the order they are applied."""
    ns = target.namespace
    config = worker_config(settings)

    def meta(name: str, **extra) -> dict[str, Any]:
        return {"name": name, "namespace": ns, "labels": dict(LABELS), **extra}

    return {
        "configmap.yaml": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(f"{NAME}-config"),
            "data": {"config.yaml": config},
        },
        "serviceaccount.yaml": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(NAME, annotations={"eks.amazonaws.com/role-arn": role_arn(settings, target)}),
        },
        "deployment.yaml": deployment(settings, target, meta(NAME), config),
        "triggerauthentication.yaml": {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": meta(f"{NAME}-aws"),
            # KEDA reads the queue as the worker's own role (the ServiceAccount's annotation).
            "spec": {"podIdentity": {"provider": "aws", "identityOwner": "workload"}},
        },
        "scaledobject.yaml": scaled_object(settings, target, meta(NAME)),
    }


def deployment(settings: Settings, target: Target, metadata: dict, config: str) -> dict[str, Any]:
    container = {
        "name": "worker",
        "image": image(settings, target),
        "command": ["edgecloud", "worker", "run"],
        "env": [
            {"name": "EDGECLOUD_CONFIG", "value": f"{CONFIG_DIR}/config.yaml"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
        ],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],  # clips are downloaded here
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        # No replicas: KEDA owns the count, and applying again must not reset it.
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": dict(LABELS),
                    # A changed config rolls the pods: they read it only at start.
                    "annotations": {"edgecloud/config-sha256": hashlib.sha256(config.encode()).hexdigest()},
                },
                "spec": {
                    "serviceAccountName": NAME,
                    # SIGTERM: a pod finishes the job in hand (its visibility kept extended meanwhile),
                    # then exits; the kill comes no sooner than a job's visibility timeout.
                    "terminationGracePeriodSeconds": settings.queues.visibility_timeout,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": f"{NAME}-config"}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def scaled_object(settings: Settings, target: Target, metadata: dict) -> dict[str, Any]:
    scaler = settings.autoscaler
    if scaler.max_workers < 1 or scaler.min_workers > scaler.max_workers:
        raise ManifestError(
            f"KEDA needs 1 <= autoscaler.max_workers (got {scaler.max_workers}) and "
            f"autoscaler.min_workers <= max_workers (got {scaler.min_workers})"
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "pollingInterval": keda.POLLING_S,
            "cooldownPeriod": keda.COOLDOWN_S,
            "minReplicaCount": scaler.min_workers,  # 0: scale to zero
            "maxReplicaCount": scaler.max_workers,
            "triggers": [
                {
                    "type": "aws-sqs-queue",
                    "authenticationRef": {"name": f"{NAME}-aws"},
                    # KEDA's metadata values are strings. It counts visible + in-flight jobs.
                    "metadata": {
                        "queueURL": queue_url(settings, target.account_id),
                        "queueLength": str(keda.queue_length(scaler)),
                        "awsRegion": settings.aws.region,
                    },
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the ConfigMap's config.yaml) as readable literal blocks."""


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def render(settings: Settings, target: Target) -> dict[str, str]:
    """File name -> YAML text."""
    return {
        name: HEADER + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, width=120)
        for name, obj in manifests(settings, target).items()
    }
