"""Detector backends behind one interface, chosen by name in config.

``detector.name`` is ``<key>`` or ``<key>:<model>``: ``darknet:yolov3-tiny``
(the default), ``hog``, ``hog:daimler``, ``haar:fullbody``,
``torchvision:ssdlite320_mobilenet_v3_large``, ``opencv-dnn``, ``faces``; or
several joined by ``+`` (``darknet:yolov3-tiny+faces``), run in one pass.
Each backend lives in its own small module, imported only when asked for, so
a Pi without torch still starts; a backend whose package is missing fails at
start with :class:`DetectorUnavailable` saying what to install.

Weights: ``hog``/``haar`` ship with OpenCV; ``darknet`` finds the release's
files by digest (see :mod:`.darknet_files`); ``faces`` uses dlib's models and
names faces from a gallery (:func:`detector_for` builds it). ``torchvision:<model>`` loads
``detector.weights`` (a local state dict) if set, else torchvision's default
weights from the torch hub cache (downloaded once when online; offline, the
error names the URL and the cache path to put the file at). Set
``detector.pretrained: false`` (env ``EDGECLOUD_DETECTOR__PRETRAINED=false``)
to build random weights for tests and offline benchmarks; the detector then
reports ``random_weights`` and its labels mean nothing. ``opencv-dnn`` needs
``detector.weights`` (.onnx, or Darknet .weights with ``detector.config_file``).
"""

from __future__ import annotations

import importlib
import logging
from typing import Optional

from ..config import DetectorSettings, Settings
from .base import Backend, Box, Detector, DetectorUnavailable, RawDetections, label_of

log = logging.getLogger(__name__)

# key -> ("module:class", what to install when the import fails)
BACKENDS = {
    "hog": ("edgecloud.detect.hog:HogBackend", "opencv-python-headless"),
    "haar": ("edgecloud.detect.haar:HaarBackend", "opencv-python-headless"),
    "torchvision": ("edgecloud.detect.torchvision_models:TorchvisionBackend", "pip install 'edgecloud[torch]'"),
    "opencv-dnn": ("edgecloud.detect.opencv_dnn:OpenCvDnnBackend", "opencv-python-headless"),
    "darknet": ("edgecloud.detect.darknet:DarknetBackend", "opencv-python-headless"),
    "faces": ("edgecloud.detect.faces:FacesBackend", "pip install dlib-bin face_recognition_models"),
}

__all__ = [
    "BACKENDS",
    "Backend",
    "Box",
    "Detector",
    "DetectorUnavailable",
    "RawDetections",
    "available_backends",
    "backend_class",
    "create_detector",
    "detector_for",
    "label_of",
    "parse_name",
    "uses_faces",
]


def parse_name(name: str) -> tuple[str, str | None]:
    """``"torchvision:fcos_resnet50_fpn"`` -> ``("torchvision", "fcos_resnet50_fpn")``."""
    key, _, model = name.strip().partition(":")
    return key, (model or None)


def backend_class(key: str) -> type[Backend]:
    if key not in BACKENDS:
        raise DetectorUnavailable(f"unknown detector {key!r}; choose one of {sorted(BACKENDS)}")
    target, install = BACKENDS[key]
    module, attr = target.split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as err:
        raise DetectorUnavailable(
            f"detector {key!r} needs a package that is missing ({err}); install: {install}"
        ) from err


def available_backends() -> dict[str, str | None]:
    """key -> None when it imports, else why not (logged, skipped)."""
    status = {}
    for key in BACKENDS:
        try:
            backend_class(key)
            status[key] = None
        except DetectorUnavailable as err:
            log.warning("detector backend %s skipped: %s", key, err)
            status[key] = str(err)
    return status


def create_detector(settings: DetectorSettings, gallery=None) -> Detector:
    """The detector ``settings.name`` names, ready to run; DetectorUnavailable if it cannot start.

    ``a+b`` runs several backends in one pass; ``gallery`` (a
    :class:`edgecloud.gallery.FaceGallery`) names the faces of ``faces``."""
    backends = []
    for part in settings.name.split("+"):
        key, model = parse_name(part)
        cls = backend_class(key)
        backends.append(
            cls(model, settings, gallery=gallery) if getattr(cls, "uses_gallery", False) else cls(model, settings)
        )
    if len(backends) == 1:
        backend = backends[0]
    else:
        from .combined import CombinedBackend

        backend = CombinedBackend(backends, settings)
    detector = Detector(backend, settings)
    log.info("detector ready: %r", detector)
    return detector


def uses_faces(name: str) -> bool:
    return any(parse_name(part)[0] == "faces" for part in name.split("+"))


def detector_for(settings: Settings, name: Optional[str] = None) -> Detector:
    """The detector of a whole configuration (``name`` overrides ``detector.name``): with ``faces``, its
    gallery is the DynamoDB table ``tables.faces`` reached through ``settings.aws``."""
    detector_settings = settings.detector if name is None else settings.detector.model_copy(update={"name": name})
    gallery = None
    if uses_faces(detector_settings.name):
        from ..aws import Aws
        from ..gallery import FaceGallery

        gallery = FaceGallery(Aws(settings.aws), settings.tables.faces, detector_settings.face_distance)
    return create_detector(detector_settings, gallery)
