"""The hand-made ground truth ``edgecloud eval --labels`` scores models against, and the frames it names.

``groundtruth/labels.json`` boxes every COCO object in 12 frames of
``vtest.avi`` and in 5 photos scikit-image ships (``skimage:<name>``); see its
``about`` and ``rules``. ``groundtruth/people.json`` counts the distinct people in
clips of ``vtest.avi`` as ``bench detect`` cuts them (``bench detect``'s counting error).
A labels file may also be the older plain form: a
list, per frame of the run's footage, of ``{label, box}`` (what ``eval``
writes as ``reference.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import click
import cv2
import numpy as np

GROUND_TRUTH = Path(__file__).parent / "groundtruth" / "labels.json"
PEOPLE = Path(__file__).parent / "groundtruth" / "people.json"


def _objects(items) -> list:
    return [SimpleNamespace(label=d["label"], score=d.get("score", 1.0), box=tuple(d["box"])) for d in items]


def footage_dirs(videos: list[Path]) -> list[Path]:
    """Where a ground-truth frame's video may be: beside --video, $EDGECLOUD_FOOTAGE, ../shared/footage."""
    dirs = [Path(v).parent for v in videos]
    if os.environ.get("EDGECLOUD_FOOTAGE"):
        dirs.append(Path(os.environ["EDGECLOUD_FOOTAGE"]))
    return dirs + [Path("../shared/footage")]


def _video_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    capture, found, index = cv2.VideoCapture(str(path)), {}, 0
    while len(found) < len(wanted):
        ok, image = capture.read()
        if not ok:
            break
        if index in wanted:
            found[index] = image
        index += 1
    capture.release()
    missing = wanted - set(found)
    if missing:
        raise click.ClickException(f"{path} has no frame(s) {sorted(missing)}")
    return found


def photo(name: str) -> np.ndarray:
    """A photo scikit-image ships, as a BGR frame (a stereo pair gives its left image)."""
    import skimage.data

    if not hasattr(skimage.data, name):
        raise click.ClickException(f"scikit-image has no photo {name!r}")
    image = getattr(skimage.data, name)()
    image = image[0] if isinstance(image, tuple) else image
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR)


def load_ground_truth(path: Path, videos: list[Path]) -> tuple[list[np.ndarray], list[list], list[str]]:
    """(frames, their labelled objects, a name per frame) from a ground-truth file."""
    doc = json.loads(Path(path).read_text())
    entries = doc["frames"]
    by_video: dict[str, set[int]] = {}
    for e in entries:
        if not e["source"].startswith("skimage:"):
            by_video.setdefault(e["source"], set()).add(int(e["frame"]))
    decoded: dict[str, dict[int, np.ndarray]] = {}
    for name, wanted in by_video.items():
        where = next((d / name for d in footage_dirs(videos) if (d / name).is_file()), None)
        if where is None:
            raise click.ClickException(f"{path.name} needs {name}; pass --video PATH/{name} (or set EDGECLOUD_FOOTAGE)")
        decoded[name] = _video_frames(where, wanted)
    frames, truth, names = [], [], []
    for e in entries:
        source = e["source"]
        if source.startswith("skimage:"):
            frames.append(photo(source.split(":", 1)[1]))
            names.append(source)
        else:
            frames.append(decoded[source][int(e["frame"])])
            names.append(f"{source}#{e['frame']}")
        truth.append(_objects(e["objects"]))
    return frames, truth, names


def is_ground_truth(path: Path) -> bool:
    """True for the ground-truth form (frames named by source), False for a plain list per frame."""
    data = json.loads(Path(path).read_text())
    return isinstance(data, dict) and "frames" in data


def people_counted(clip_seconds: float, path: Path = PEOPLE) -> dict[str, int]:
    """Per clip name as ``cut_clips`` names it (``vtest-002``), the people counted by hand in it; empty when the
    counts were made for clips of another length (their frames would not be those clips')."""
    doc = json.loads(Path(path).read_text())
    if abs(float(doc["clip_seconds"]) - clip_seconds) > 1e-6:
        return {}
    stem = Path(doc["source"]).stem
    return {f"{stem}-{int(c['index']):03d}": int(c["people"]) for c in doc["clips"]}
