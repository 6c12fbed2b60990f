"""Fixtures for the infra tests: the template as data, and a moto account to deploy into."""

from __future__ import annotations

import warnings

import pytest

from edgecloud.aws import Aws
from edgecloud.infra.policies import load_template


@pytest.fixture(scope="session")
def template() -> dict:
    return load_template()


@pytest.fixture
def moto_account(settings):
    """In-process moto; yields (Aws, worker AMI id). Silences moto's note on types it skips."""
    from moto import mock_aws

    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")
        aws = Aws(settings.aws)
        ami = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        yield aws, ami
