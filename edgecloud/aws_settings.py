"""The ``aws:``, ``storage:``, ``tables:``, ``queues:`` and ``infra:`` settings sections: the AWS account,
the names of the buckets, tables and queues every component shares, and the stack that makes them.

Its own module because every component reads these names, whatever else it does; ``edgecloud.settings``
gathers every section.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from .sections import Section


class AwsSettings(Section):
    region: str = Field("us-east-1", description="AWS region for every client.")
    endpoint_url: Optional[str] = Field(
        None, description="Send every AWS call here (the embedded moto server); null on real AWS."
    )


class StorageSettings(Section):
    clips_bucket: str = Field("edgecloud-clips", description="Bucket for clips/<device>/<date>/<clip>.<ext>.")
    results_bucket: str = Field("edgecloud-results", description="Bucket for results/<device>/<date>/<clip>.json.")
    frames_bucket: str = Field("edgecloud-frames", description="Bucket the Pis post frames to (edge.mode: frames).")


class TableSettings(Section):
    credentials: str = Field(
        "edgecloud-credentials", description="DynamoDB table of device and operator tokens (hashes only)."
    )
    faces: str = Field("edgecloud-faces", description="DynamoDB table of enrolled faces (name, embeddings, info).")
    workers: str = Field(
        "edgecloud-workers",
        description="DynamoDB table where each worker reports its state "
        "(polling, busy, retiring); a fleet instance with no report is booting.",
    )
    clips: str = Field(
        "edgecloud-clips",
        description="DynamoDB table of clip status, submissions and timings "
        "that every controller shares (controller.ledger: dynamodb).",
    )
    leases: str = Field(
        "edgecloud-leases",
        description="DynamoDB table of leases: the controller holding the "
        "'autoscaler' lease is the one that decides and launches.",
    )
    sessions: str = Field(
        "edgecloud-sessions",
        description="DynamoDB table of dashboard sessions (and used login "
        "links) that every controller shares; items expire by TTL.",
    )
    events: str = Field(
        "edgecloud-events",
        description="DynamoDB table of events (clips of one device grouped by "
        "events.gap_s) that every controller shares (controller.ledger: dynamodb).",
    )


class QueueSettings(Section):
    jobs: str = Field("edgecloud-jobs", description="SQS queue of clips waiting for a worker.")
    completions: str = Field("edgecloud-completions", description="SQS queue workers report finished jobs on.")
    dead_letter: str = Field("edgecloud-jobs-dlq", description="Where a job goes after max_receive failed tries.")
    retire: str = Field(
        "edgecloud-retire",
        description="SQS queue of the controller's asks that an idle worker leave (scale-in); "
        "asks expire after a minute.",
    )
    frame_answers: str = Field(
        "edgecloud-answers", description="Per-device queues of frame answers: <prefix>-<device>."
    )
    max_receive: int = Field(3, ge=1, le=1000, description="Deliveries of one job before it is dead-lettered.")
    visibility_timeout: int = Field(120, ge=10, le=43200, description="Seconds a received job stays hidden.")


class InfraSettings(Section):
    stack: str = Field(
        "edgecloud",
        pattern=r"^[a-z][a-z0-9-]{1,19}$",
        description="CloudFormation stack `edgecloud infra` deploys; also the prefix of every resource name.",
    )
    clip_retention_days: int = Field(30, ge=1, description="Clips older than this are deleted by an S3 lifecycle rule.")
    controller_ingress_cidr: Optional[str] = Field(
        None, description="Addresses (the Pis) allowed to reach the controller's port; null opens nothing."
    )
