"""The function's code for the stack: Lambda reads a zip from S3, so ``infra up
--function-zip`` uploads it first to an artifacts bucket beside the stack (its
own, kept when the stack is removed: a rollback still finds the code)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code

from .params import InfraError


def artifacts_bucket(aws: Aws, stack: str) -> str:
    """``<stack>-artifacts-<account>-<region>``, created (private, encrypted) if missing."""
    account = aws.client("sts").get_caller_identity()["Account"]
    region = aws.settings.region
    name = f"{stack}-artifacts-{account}-{region}"
    kwargs = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        aws.s3.create_bucket(**kwargs)
    except ClientError as err:
        if error_code(err) != "BucketAlreadyOwnedByYou":
            raise
    aws.s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return name


def upload_zip(aws: Aws, stack: str, zip_path: Path) -> dict[str, str]:
    """Upload the zip under its digest (a new build is a new key, so the stack sees a change)."""
    digest = hashlib.sha256(Path(zip_path).read_bytes()).hexdigest()[:16]
    bucket, key = artifacts_bucket(aws, stack), f"lambda/edgecloud-{digest}.zip"
    aws.s3.upload_file(str(zip_path), bucket, key)
    return {"FunctionCodeBucket": bucket, "FunctionCodeKey": key}


def function_code(aws: Aws, stack: str, zip_path: Optional[Path], params: dict[str, str]) -> dict[str, str]:
    """The code parameters of a stack with a function: an image, a zip given as parameters, or the uploaded zip."""
    if params.get("FunctionImageUri") or (params.get("FunctionCodeBucket") and params.get("FunctionCodeKey")):
        return {}
    if zip_path is None:
        raise InfraError(
            "fleet.backend lambda needs the function's code: --function-zip ZIP "
            "(`edgecloud lambda package --out ZIP`), or --param FunctionImageUri=<image>"
        )
    return upload_zip(aws, stack, zip_path)
