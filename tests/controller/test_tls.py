"""HTTPS: gunicorn serves controller.tls_cert / tls_key; the edge trusts a private CA
(edge.ca_bundle) made by trustme; a client without that CA is refused."""

from __future__ import annotations

import pytest
import requests
import trustme

from edgecloud.config import ConfigError, from_dict
from edgecloud.controller.service import check_tls
from edgecloud.edge.session import session_factory
from edgecloud.edge.spool import Spool
from edgecloud.edge.uploader import Uploader
from edgecloud.localcloud import ControllerProcess, issue_credentials, write_token

from ..edge.test_uploader import spool_clips


@pytest.fixture
def private_ca(tmp_path):
    """A CA of our own and a certificate it issued for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    for pem in cert.cert_chain_pems:
        pem.write_to_path(str(paths[1]), append=True)
    cert.private_key_pem.write_to_path(str(paths[2]))
    return paths


@pytest.mark.slow
def test_the_controller_serves_https_and_the_edge_uploads_through_it(stack_settings, tmp_path, private_ca, vtest_mp4):
    ca_pem, cert_pem, key_pem = private_ca
    settings = stack_settings
    settings.autoscaler.max_workers = 0  # uploads only: no worker needed
    settings.controller.tls_cert, settings.controller.tls_key = cert_pem, key_pem
    settings.edge.ca_bundle = ca_pem
    tokens = issue_credentials(settings, ["pi-01"])
    settings.edge.token_file = write_token(tmp_path / "device.token", tokens["pi-01"])
    with ControllerProcess(settings, tmp_path) as controller:
        assert controller.url.startswith("https://127.0.0.1:")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{controller.url}/healthz", timeout=10)  # the system's CAs do not know ours
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(controller.url.replace("https:", "http:") + "/healthz", timeout=10)  # no plain HTTP
        assert requests.get(f"{controller.url}/healthz", timeout=10, verify=str(ca_pem)).json() == {"ok": True}

        spool = Spool(tmp_path / "spool", 10**9)
        [clip_id] = spool_clips(spool, vtest_mp4, tmp_path, 1)
        with Uploader(spool, controller.url, session_factory=session_factory(settings.edge)) as uploader:
            assert uploader.wait_drained(60)
        status = requests.get(
            f"{controller.url}/v1/clips/{clip_id}",
            timeout=10,
            verify=str(ca_pem),
            headers={"Authorization": f"Bearer {tokens['pi-01']}"},
        ).json()
        assert status["clip_id"] == clip_id and status["status"] == "queued"


def test_a_certificate_without_its_key_is_a_clear_error(tmp_path, private_ca):
    _, cert_pem, key_pem = private_ca
    with pytest.raises(ConfigError, match="both or neither"):
        check_tls(from_dict({"controller": {"tls_cert": str(cert_pem)}}).controller)
    with pytest.raises(ConfigError, match="cannot read"):
        check_tls(from_dict({"controller": {"tls_cert": str(cert_pem), "tls_key": str(tmp_path / "nope")}}).controller)
    check_tls(from_dict({"controller": {"tls_cert": str(cert_pem), "tls_key": str(key_pem)}}).controller)
