"""Which EC2 instance am I? From settings, else from the instance metadata
service with an IMDSv2 session token (the fleet launches with tokens required).
In a Kubernetes pod: none, whatever IMDS says (it would name the pod's node)."""
from __future__ import annotations

import logging
import os
from typing import Mapping, Optional

import requests

from edgecloud.config import WorkerSettings

log = logging.getLogger(__name__)

IMDS_URL = "http://169.254.169.254"
TOKEN_TTL_S = 300


def imds_instance_id(base_url: str = IMDS_URL, timeout: float = 1.0) -> Optional[str]:
    """The instance id from IMDSv2, or None off EC2 (short timeouts: no long hang on a laptop)."""
    try:
        token = requests.put(f"{base_url}/latest/api/token", timeout=timeout,
                             headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)})
        token.raise_for_status()
        reply = requests.get(f"{base_url}/latest/meta-data/instance-id", timeout=timeout,
                             headers={"X-aws-ec2-metadata-token": token.text})
        reply.raise_for_status()
    except requests.RequestException as err:
        log.info("no instance metadata service (%s): not on EC2", err.__class__.__name__)
        return None
    return reply.text.strip() or None


def on_kubernetes(settings: WorkerSettings, environ: Mapping[str, str] = os.environ) -> bool:
    """``worker.platform``; ``auto`` looks for the variable the kubelet sets in every pod."""
    if settings.platform == "auto":
        return "KUBERNETES_SERVICE_HOST" in environ
    return settings.platform == "kubernetes"


def instance_id(settings: WorkerSettings, base_url: str = IMDS_URL,
                environ: Mapping[str, str] = os.environ) -> Optional[str]:
    if on_kubernetes(settings, environ):
        # The node's instance is not the pod's: with an id the worker would report
        # under it and, retiring, terminate the node with every pod on it.
        return None
    return settings.instance_id or imds_instance_id(base_url)
