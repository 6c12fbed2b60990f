"""The embedded AWS in a process of its own (the demo's and the upload bench's): it serves, and it goes."""

from __future__ import annotations

import os

import psutil
import pytest

from edgecloud.aws import Aws
from edgecloud.aws_settings import AwsSettings
from edgecloud.localcloud import EmbeddedAws

pytestmark = pytest.mark.slow


def test_moto_in_its_own_process_serves_s3_and_ends_when_closed():
    with EmbeddedAws(own_process=True) as moto:
        assert moto.pid != os.getpid()
        child = psutil.Process(moto.pid)
        s3 = Aws(AwsSettings(endpoint_url=moto.endpoint_url)).s3
        s3.create_bucket(Bucket="clips")
        s3.put_object(Bucket="clips", Key="a.mp4", Body=b"ftyp", IfNoneMatch="*")
        assert s3.get_object(Bucket="clips", Key="a.mp4")["Body"].read() == b"ftyp"
    assert not child.is_running()


def test_the_moto_process_ends_when_its_parent_goes(tmp_path):
    moto = EmbeddedAws(own_process=True)
    moto.start()
    proc = moto._proc
    proc.stdin.close()  # what the parent's death does to the child's stdin
    assert proc.wait(10) == 0
    moto.close()
