"""Cross-process fixtures: settings pointed at the shared moto server, each test
with its own buckets, queues and fleet tag so tests never see each other's work."""
import uuid

import pytest

from edgecloud.aws import Aws, ensure_resources
from edgecloud.config import from_dict


@pytest.fixture
def stack_settings(moto_server, tmp_path):
    tag = uuid.uuid4().hex[:8]
    settings = from_dict({
        "aws": {"endpoint_url": moto_server},
        "storage": {"clips_bucket": f"clips-{tag}", "results_bucket": f"results-{tag}"},
        "queues": {"jobs": f"jobs-{tag}", "completions": f"done-{tag}", "dead_letter": f"dlq-{tag}",
                   "retire": f"retire-{tag}"},
        "tables": {"credentials": f"creds-{tag}"},
        "fleet": {"backend": "local", "name": f"fleet-{tag}"},
        "worker": {"idle_timeout": 4, "wait_seconds": 1},
        "autoscaler": {"interval": 0.5, "boot_time_s": 2, "target_latency_s": 10, "rate_window_s": 4},
        "controller": {"data_dir": str(tmp_path / "controller"), "port": 0},
        "edge": {"spool_dir": str(tmp_path / "spool")},
    })
    ensure_resources(Aws(settings.aws), settings)
    return settings


@pytest.fixture
def device_auth(stack_settings, issue_tokens) -> dict[str, str]:
    """Headers that authenticate as device pi-01 in this test's credentials table."""
    return {"Authorization": f"Bearer {issue_tokens(stack_settings)['device']}"}
