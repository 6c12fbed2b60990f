"""Which EC2 instance am I? From settings, else from the instance metadata
service with an IMDSv2 session token (the fleet launches with tokens required).
In a Kubernetes pod: none, whatever IMDS says (it would name the pod's node)."""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Mapping, Optional

import requests

from edgecloud.config import WorkerSettings

log = logging.getLogger(__name__)

IMDS_URL = "http://169.254.169.254"
TOKEN_TTL_S = 300


def imds_get(path: str, base_url: str = IMDS_URL, timeout: float = 1.0) -> Optional[str]:
    """One metadata item through IMDSv2 (token first), or None off EC2 or where the item is absent
    (short timeouts: no long hang on a laptop)."""
    try:
        token = requests.put(
            f"{base_url}/latest/api/token",
            timeout=timeout,
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)},
        )
        token.raise_for_status()
        reply = requests.get(
            f"{base_url}/latest/meta-data/{path}", timeout=timeout, headers={"X-aws-ec2-metadata-token": token.text}
        )
        reply.raise_for_status()
    except requests.RequestException as err:
        log.info("no instance metadata %s (%s)", path, err.__class__.__name__)
        return None
    return reply.text.strip() or None


def imds_instance_id(base_url: str = IMDS_URL, timeout: float = 1.0) -> Optional[str]:
    """The instance id from IMDSv2, or None off EC2."""
    return imds_get("instance-id", base_url, timeout)


def wait_until_in_service(
    base_url: str = IMDS_URL, *, pause: Callable[[float], object] = time.sleep, every_s: float = 5.0
) -> Optional[str]:
    """Hold the worker while its instance is being prepared for an Auto Scaling warm pool.

    A warm-pool instance boots once, runs its user data (and so this unit) and is
    then stopped until needed: a worker polling then could take a job and be
    stopped with it in hand. AWS's recipe: wait while the target lifecycle state
    is ``Warmed:*``. Returns the state seen last (None: no IMDS, or no Auto
    Scaling group: nothing to wait for)."""
    while True:
        state = imds_get("autoscaling/target-lifecycle-state", base_url)
        if not state or not state.startswith("Warmed"):
            return state
        log.info("instance headed for the warm pool (%s): not polling until it is in service", state)
        pause(every_s)


def on_kubernetes(settings: WorkerSettings, environ: Mapping[str, str] = os.environ) -> bool:
    """``worker.platform``; ``auto`` looks for the variable the kubelet sets in every pod."""
    if settings.platform == "auto":
        return "KUBERNETES_SERVICE_HOST" in environ
    return settings.platform == "kubernetes"


def instance_id(
    settings: WorkerSettings, base_url: str = IMDS_URL, environ: Mapping[str, str] = os.environ
) -> Optional[str]:
    if on_kubernetes(settings, environ):
        # The node's instance is not the pod's: with an id the worker would report
        # under it and, retiring, terminate the node with every pod on it.
        return None
    return settings.instance_id or imds_instance_id(base_url)
