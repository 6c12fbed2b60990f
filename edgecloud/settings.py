"""What can be set: every section of ``config.yaml``, each field with its default and meaning.

The schema only; reading files and the environment is ``edgecloud.config``'s job.
``edgecloud config defaults`` prints this schema as the documented ``config.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, create_model, model_validator

from .front_settings import FrontSettings
from .notify_settings import NotifyRule, NotifySettings
from .scene_settings import EventSettings, ZoneSettings
from .sections import Section

__all__ = [
    "EventSettings",
    "NotifyRule",
    "NotifySettings",
    "Section",
    "ZoneSettings",
]  # re-exported with the sections below


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


class DetectorSettings(Section):
    name: str = Field(
        "darknet:yolov3-tiny",
        description="Backend: darknet:yolov3-tiny (COCO's 80 classes) | hog "
        "(people, no files) | haar:<cascade> | torchvision:<model> | opencv-dnn | faces; a+b runs both.",
    )
    sample_fps: float = Field(2.0, gt=0, le=60, description="Frames per second of video analysed.")
    min_score: float = Field(0.5, ge=0, le=1, description="Detections scoring below this are dropped.")
    labels: list[str] = Field(default_factory=list, description="Keep only these labels; empty keeps all.")
    weights: Optional[Path] = Field(None, description="Local weights file; null uses the backend's default.")
    config_file: Optional[Path] = Field(None, description="Model description for opencv-dnn (Darknet .cfg).")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N (torchvision backends).")
    batch_size: int = Field(8, ge=1, le=256, description="Frames per inference batch.")
    motion_gate: bool = Field(True, description="Skip frames with no motion (always keeps 1 per second).")
    max_side: int = Field(
        640,
        ge=64,
        le=4096,
        description="Frames are downscaled so their longer side fits (not for "
        "hog/haar, whose fixed window would then miss small people: they see full frames, or their "
        "moving regions).",
    )
    motion_regions: bool = Field(
        True, description="Full-size detectors (hog): look only where something moved, bar one whole frame per 5 s."
    )
    pretrained: bool = Field(
        True,
        description="torchvision: trained weights (detector.weights, else torchvision's "
        "default in the torch hub cache); false builds random weights for tests and offline "
        "benchmarks (labels meaningless).",
    )
    model_input: Optional[int] = Field(
        None,
        ge=32,
        le=4096,
        description="Model input size: torchvision R-CNN/RetinaNet/"
        "FCOS shorter side (min_size; null: the model's 800); opencv-dnn square side "
        "(null: the .cfg's width, else 416).",
    )
    max_detections: int = Field(100, ge=1, le=1000, description="torchvision: most detections kept per frame.")
    prefetch: bool = Field(True, description="Decode in a background thread while the detector works.")
    cache_dir: Optional[Path] = Field(
        None, description="`edgecloud models fetch`'s cache; null: ~/.cache/edgecloud/models."
    )
    face_distance: float = Field(
        0.6,
        gt=0,
        le=2,
        description="faces: an enrolled person's face is within this "
        "embedding distance of theirs (dlib's usual 0.6); farther is `unknown`.",
    )
    face_upsample: int = Field(
        1, ge=0, le=4, description="faces: times dlib upsamples a frame (smaller faces, slower)."
    )
    min_frames: int = Field(
        2,
        ge=1,
        le=100,
        description="Analysed frames a tracked object must be seen in to count: a one-frame flicker is no object.",
    )


class WorkerSettings(Section):
    instance_id: Optional[str] = Field(None, description="This worker's EC2 instance id; null asks IMDSv2 (on EC2).")
    wait_seconds: int = Field(20, ge=0, le=20, description="SQS long-poll wait.")
    idle_timeout: float = Field(
        300,
        gt=0,
        description="Seconds with nothing in hand before the worker retires: a safety net, at least "
        "autoscaler.rate_window_s, so it never ends a worker the autoscaler still wants; scale-in is the "
        "controller asking idle workers to leave (queues.retire).",
    )
    heartbeat_seconds: float = Field(30, gt=0, description="How often visibility is extended while working.")
    retire: bool = Field(True, description="Terminate this instance when idle (false: just exit).")
    platform: Literal["auto", "ec2", "kubernetes"] = Field(
        "auto",
        description="Where the worker runs. ec2: its instance id from IMDSv2, and it retires by "
        "terminating that instance (off EC2, by exiting). kubernetes: never asks IMDS nor terminates anything (a "
        "pod's node is not its to end) and never leaves when idle: KEDA scales the Deployment and SIGTERM stops "
        "a pod. auto: kubernetes inside a pod (KUBERNETES_SERVICE_HOST set), else ec2.",
    )


class FleetSettings(Section):
    backend: Literal["local", "ec2", "asg", "lambda"] = Field(
        "local", description="How workers are launched (lambda: none; the jobs queue feeds a function)."
    )
    name: str = Field("edgecloud", description="Value of the edgecloud:fleet tag marking our workers.")
    ami_id: Optional[str] = Field(None, description="Worker AMI (ec2 backend without a launch template).")
    instance_type: str = Field("c6i.large", description="Worker instance type (ec2 backend).")
    launch_template: Optional[str] = Field(None, description="Launch template name (ec2 backend).")
    subnet_ids: list[str] = Field(default_factory=list, description="Subnets to launch into (ec2 backend).")
    security_group_ids: list[str] = Field(default_factory=list, description="Security groups (ec2 backend).")
    instance_profile: Optional[str] = Field(None, description="IAM instance profile name (ec2 backend).")
    spot: bool = Field(False, description="Ask for spot capacity first, fall back to on-demand.")
    asg_name: Optional[str] = Field(None, description="Auto Scaling group (asg backend).")
    launch_template_version: str = Field(
        "$Default", description="Launch template version: a number, $Default or $Latest (ec2 backend)."
    )
    worker_config_path: str = Field(
        "/etc/edgecloud/config.yaml", description="Where user-data writes the worker's config on the instance."
    )
    worker_unit: str = Field("edgecloud-worker.service", description="systemd unit user-data restarts on boot.")
    scaling: Literal["loop", "target-tracking"] = Field(
        "loop",
        description="loop: the leading controller's autoscaler launches workers; target-tracking (asg "
        "backend): the Auto Scaling group's target-tracking policy on the published BacklogPerWorker metric "
        "does, and the controller only publishes metrics.",
    )

    @model_validator(mode="after")
    def _target_tracking_needs_a_group(self):
        if self.scaling == "target-tracking" and self.backend != "asg":
            raise ValueError(
                f"fleet.scaling target-tracking is a policy of an Auto Scaling group: it needs "
                f"fleet.backend asg, not {self.backend}"
            )
        return self


class FunctionSettings(Section):
    """The Lambda function: the worker as a function (fleet.backend: lambda) and the frame handler."""

    name: str = Field("edgecloud-worker", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Function name.")
    memory_mb: int = Field(2048, ge=128, le=10240, description="Function memory (CPU grows with it).")
    timeout_s: int = Field(60, ge=1, le=900, description="Longest invocation (<= queues.visibility_timeout).")
    batch_size: int = Field(1, ge=1, le=10, description="Jobs per invocation from the jobs queue.")
    package: Path = Field(
        Path("var/lambda/edgecloud-lambda-local.zip"),
        description="Zip the local emulation runs (for this machine's Python; the demo rebuilds it when stale).",
    )
    image_uri: Optional[str] = Field(None, description="Container image (torch models, faces) instead of the zip.")


class AutoscalerSettings(Section):
    interval: float = Field(5, gt=0, description="Seconds between scaling decisions.")
    min_workers: int = Field(0, ge=0, description="Workers kept even when the queue is empty.")
    max_workers: int = Field(19, ge=0, description="Hard cap on pending + running workers.")
    target_latency_s: float = Field(60, gt=0, description="Latency a clip should finish within.")
    boot_time_s: float = Field(60, ge=0, description="Typical time from launch to first poll.")
    process_time_s: float = Field(3, gt=0, description="Initial guess of seconds per clip, refined as results arrive.")
    utilization: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Busy fraction a small fleet aims at under steady load (lower: faster, dearer); "
        "large fleets run busier (load + 1.5 sqrt(load) workers).",
    )
    rate_window_s: float = Field(300, gt=0, description="Seconds of submissions averaged into the arrival rate.")


class ControllerSettings(FrontSettings):  # and the nginx front's, from front_settings.py
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the API listens on (0 picks a free one).")
    url: Optional[str] = Field(
        None,
        description="Public URL of the API, for status and alert links; null: the "
        "URL serve listens on (never the request's Host header).",
    )
    data_dir: Path = Field(Path("var/controller"), description="Where the clip ledger (SQLite) lives.")
    ledger: Literal["sqlite", "dynamodb"] = Field(
        "sqlite",
        description="Where clip status lives: sqlite (one "
        "controller, in data_dir) | dynamodb (tables.clips, shared by "
        "any number of controllers; the stack's choice).",
    )
    max_clip_mb: float = Field(200, gt=0, description="Uploads over this size are refused (413).")
    threads: int = Field(16, ge=1, le=256, description="gunicorn threads serving the API.")
    max_wait_s: float = Field(60, ge=0, description="Longest ?wait= a status request may hold.")
    max_frame_kb: int = Field(512, ge=1, le=5120, description="Largest frame a presigned POST lets a Pi upload.")
    frame_post_ttl_s: int = Field(
        60,
        ge=10,
        le=3600,
        description="Life of a presigned frame POST: one "
        "frame's key, used at once; a leaked one is replayable this long.",
    )
    max_held_waits: Optional[int] = Field(
        None,
        ge=0,
        le=256,
        description="?wait= requests held at once "
        "(null: half the threads); past it a poll is answered at once, so "
        "uploads always find a thread.",
    )
    max_waits_per_device: int = Field(3, ge=0, le=64, description="?wait= requests one device may hold at once.")
    token_cache_s: float = Field(
        30,
        ge=0,
        le=60,
        description="Seconds a checked token is trusted without asking "
        "the registry again: a revoked token stops working within this.",
    )
    link_ttl_s: int = Field(600, ge=10, le=604800, description="Seconds a presigned video/snapshot link lasts.")
    secret_key: Optional[str] = Field(
        None,
        min_length=32,
        description="Signs the dashboard's one-time login "
        "links; null: a key made once and kept in AWS Secrets Manager as "
        "controller.secret_name (shared by every controller).",
    )
    session_hours: float = Field(12, gt=0, le=720, description="Dashboard login lifetime.")
    upload_burst: int = Field(
        30,
        ge=1,
        description="Requests a device may burst, each upload (refused ones "
        "too), poll and frame grant (token bucket, per controller).",
    )
    upload_refill_per_s: float = Field(
        5.0,
        gt=0,
        description="Requests per second a device's bucket regains "
        "(frames mode at 0.5 s asks up to 4/s: a grant and an answers poll a frame).",
    )
    daily_clip_cap: int = Field(20_000, ge=1, description="Uploads per device per UTC day, across all controllers.")
    tls_cert: Optional[Path] = Field(None, description="PEM certificate chain to serve HTTPS with; null: plain HTTP.")
    tls_key: Optional[Path] = Field(None, description="PEM private key of tls_cert (both or neither).")
    bad_token_per_min: int = Field(
        20,
        ge=1,
        description="Wrong tokens one source address may present a minute "
        "(per controller); past it 429, with no credentials read.",
    )
    secret_name: str = Field(
        "edgecloud/dashboard-key",
        description="AWS Secrets Manager secret holding the "
        "dashboard's signing key when secret_key is null (the stack makes it; elsewhere the "
        "first controller that needs it does).",
    )


class EdgeSettings(Section):
    device_id: str = Field("pi-01", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="Names this Pi in clip ids.")
    controller_url: str = Field("http://127.0.0.1:8080", description="Where clips are POSTed.")
    pir_pin: int = Field(17, ge=0, le=40, description="BCM pin of the PIR sensor's output.")
    camera: Literal["auto", "picamera2", "file"] = Field(
        "auto", description="picamera2 on a Pi, file elsewhere; auto picks."
    )
    video: Optional[Path] = Field(None, description="Footage the file camera plays (simulation).")
    playback_speed: float = Field(1.0, gt=0, le=100, description="File camera: video seconds per wall second.")
    resolution: tuple[int, int] = Field((1280, 720), description="Camera frame size (picamera2).")
    fps: float = Field(10, gt=0, le=120, description="Camera frame rate.")
    bitrate: int = Field(4_000_000, gt=0, description="H.264 bitrate.")
    preroll_seconds: float = Field(1.0, ge=0, le=30, description="Video kept from before the trigger.")
    clip_seconds: float = Field(5.0, gt=0, le=600, description="Clip length after the trigger.")
    max_clip_seconds: float = Field(30.0, gt=0, le=3600, description="Longest clip while motion continues.")
    cooldown_seconds: float = Field(2.0, ge=0, description="Quiet time after a clip before another starts.")
    spool_dir: Path = Field(Path("var/spool"), description="Durable outbox: clips wait here until a 201.")
    spool_max_mb: float = Field(
        1024,
        gt=0,
        description="Spool size cap; over it the oldest clips lose their video, never their record (sent, counted).",
    )
    policy: Literal["busy-offload", "fastest-finish", "escalate-uncertain"] = Field(
        "fastest-finish", description="Where each clip is processed."
    )
    escalate_below: float = Field(0.6, ge=0, le=1, description="escalate-uncertain: send to cloud under this score.")
    upload_timeout_s: float = Field(30, gt=0, description="HTTP timeout of one upload.")
    retry_max_s: float = Field(60, gt=0, description="Longest backoff between upload tries.")
    downscale_width: Optional[int] = Field(None, ge=64, description="Re-encode to this width before upload.")
    downscale_crf: int = Field(28, ge=0, le=51, description="x264 quality of the re-encode (higher = smaller).")
    stats_path: Optional[Path] = Field(
        None, description="Per-clip round-trip records (SQLite); null: edge-stats.sqlite beside spool_dir."
    )
    user: str = Field("edgecloud", description="Non-root user `edgecloud edge install` runs the agent as.")
    result_wait_s: float = Field(10, ge=0, le=60, description="Long-poll of one cloud result (GET ?wait=).")
    mode: Literal["clips", "frames"] = Field(
        "clips",
        description="frames: while motion lasts, a JPEG every "
        "frame_interval_s straight to S3, each answered; clips: clips.",
    )
    frame_interval_s: float = Field(0.5, gt=0, le=60, description="Seconds between frames (mode: frames).")
    frame_quality: int = Field(80, ge=10, le=100, description="JPEG quality of each frame (mode: frames).")
    result_deadline_s: float = Field(
        900,
        gt=0,
        description="Stop watching for a cloud result after this long "
        "(the clip stays in the cloud; only the Pi's stats miss it).",
    )
    token_file: Optional[Path] = Field(None, description="This device's bearer token (0640 root:user); null: none.")
    ca_bundle: Optional[Path] = Field(None, description="PEM of a private CA to trust for the controller's HTTPS.")
    emulated_pi_slowdown: float = Field(
        1.0,
        ge=1,
        le=100,
        description="This machine playing the Pi (edgecloud "
        "demo, edge simulate): each clip's local analysis, really run, is held until "
        "it has taken this many times as long, a Pi's pace (about 6x slower); 1: "
        "no pacing, as on a real Pi.",
    )


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


class LimitsSettings(Section):
    """What one clip may be: checked from its headers before anything decodes it, and while it decodes."""

    max_pixels: int = Field(
        3840 * 2160,
        ge=64 * 64,
        description="Largest frame in pixels, width x height "
        "(3840x2160): a clip with bigger ones is refused (422 at upload; failed if it arrives "
        "at a worker, the Pi or the function by another path).",
    )
    max_frames: int = Field(
        3600,
        ge=1,
        description="Most frames in one clip (from its headers; a raw H.264 stream's are counted without decoding).",
    )
    max_duration_s: float = Field(120, gt=0, description="Longest clip, in seconds of video.")
    clip_budget_s: float = Field(
        300,
        gt=0,
        description="Wall-clock seconds one clip's analysis may take; past "
        "it the clip ends failed, its heartbeat stops and the worker takes the next job. "
        "300: 2.5x queues.visibility_timeout, and several times what a clip at every "
        "limit takes (sampled at detector.sample_fps); the function also stops at "
        "function.timeout_s.",
    )


# The sections of config.yaml, in the order the file lists them.
SECTIONS: dict[str, type[Section]] = {
    "aws": AwsSettings,
    "storage": StorageSettings,
    "tables": TableSettings,
    "queues": QueueSettings,
    "detector": DetectorSettings,
    "worker": WorkerSettings,
    "fleet": FleetSettings,
    "function": FunctionSettings,
    "autoscaler": AutoscalerSettings,
    "controller": ControllerSettings,
    "edge": EdgeSettings,
    "infra": InfraSettings,
    "notify": NotifySettings,
    "limits": LimitsSettings,
    "zones": ZoneSettings,
    "events": EventSettings,
}

# Every section, each defaulting to its own defaults: ``settings.edge.device_id`` and so on.
Settings = create_model(
    "Settings",
    __base__=Section,
    __module__=__name__,
    **{name: (cls, Field(default_factory=cls)) for name, cls in SECTIONS.items()},
)
