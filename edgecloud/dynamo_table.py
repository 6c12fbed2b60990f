"""Making one DynamoDB table: its key, indexes and expiry, as each table module declares them
(``clip_table``, ``credentials``, ``workers``); ``edgecloud.provision`` makes them all."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .aws import Aws, error_code


def ensure_dynamodb_table(
    aws: Aws,
    table: str,
    key: str,
    *,
    expires_attribute: str | None = None,
    indexes: dict[str, tuple[str, str]] | None = None,
) -> bool:
    """Create an on-demand DynamoDB table with a string hash ``key`` if missing (demo, tests,
    --ensure-resources; True if made here), with TTL on ``expires_attribute`` when given, and
    ``indexes``: global secondary index name -> its (hash, range) string attributes, all projected."""
    indexes = indexes or {}
    names = sorted({key, *(a for pair in indexes.values() for a in pair)})
    extra: dict[str, Any] = (
        {
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": name,
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}],
                }
                for name, (h, r) in indexes.items()
            ]
        }
        if indexes
        else {}
    )
    try:
        aws.dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in names],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            **extra,
        )
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
        return False
    aws.dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if expires_attribute:
        aws.dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": expires_attribute}
        )
    return True
