"""Cross-process fixtures (stack_settings, shared with other areas, is in tests/conftest.py)."""

import pytest


@pytest.fixture
def device_auth(stack_settings, issue_tokens) -> dict[str, str]:
    """Headers that authenticate as device pi-01 in this test's credentials table."""
    return {"Authorization": f"Bearer {issue_tokens(stack_settings)['device']}"}
