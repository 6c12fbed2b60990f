"""What ``edgecloud demo`` checks before it starts anything and what it judges once every clip is in.

Before: the detector the Pi and the workers will run must load here (they share this
machine and these settings); a demo with no model files would otherwise record clips
only for each to end ``failed``. After: the demo's footage is good, so a clip that is
not ``done`` (no result, or ``failed``) is the pipeline's fault, never the clip's.
"""

from __future__ import annotations

import click

from edgecloud.config import Settings

HOG = "hog"  # OpenCV's people detector: ships with OpenCV, needs no model files


def check_detector(settings: Settings) -> None:
    """Load ``detector.name`` once; a ClickException naming the fix when it cannot."""
    from edgecloud.detect import detector_for

    name = settings.detector.name
    try:
        detector_for(settings)
    except Exception as err:  # any failure to load: missing weights, a package, a corrupt file
        fixes = (
            [
                "run ./scripts/dev.sh demo, which installs the YOLO files (offline too)",
                f"or `edgecloud models fetch {_darknet_model(name)}` (online)",
            ]
            if "darknet" in name
            else []
        )
        if name != HOG:
            fixes.append(f"or run the demo with --detector {HOG} (no model files)")
        raise click.ClickException(
            f"the demo's detector {name} cannot load, so every clip would fail: {err}\n"
            f"Fix: {'; '.join(fixes) or 'see the error above'}"
        ) from None


def _darknet_model(name: str) -> str:
    for part in name.split("+"):
        key, _, model = part.partition(":")
        if key == "darknet":
            return model or "yolov3-tiny"
    return "yolov3-tiny"


def not_done(report: dict) -> list[str]:
    """Each clip that did not end ``done``, as ``<clip id>: <status>[ (<error>)]``."""
    return [
        f"{c['clip_id']}: {c['status']}" + (f" ({c['error']})" if c.get("error") else "")
        for c in report["clips"]
        if c["status"] != "done" or c["labels"] is None
    ]
