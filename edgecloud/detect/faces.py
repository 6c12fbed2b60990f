"""``faces``: dlib's frontal face detector and its 128-d face embedding, each face named from the gallery.

The Lambda seed's job: find faces, then look the person up. dlib's HOG face
detector needs no file; the 5-point landmarks and the ResNet embedding come
from the ``face_recognition_models`` package (found with ``find_spec``, not
imported: its ``__init__`` needs ``pkg_resources``). Each face is labelled
``face`` and carries ``identity`` (an enrolled name, or ``unknown``) and the
distance to the nearest enrolled face. dlib's margin is squashed to a score
with a logistic curve, 0.5 at dlib's own threshold (as for ``hog``).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import dlib
import numpy as np

from .base import Backend, DetectorUnavailable, RawDetections

MODELS_PACKAGE = "face_recognition_models"


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]
    score: float
    embedding: np.ndarray


@lru_cache(maxsize=1)
def _models():
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(f"faces needs {MODELS_PACKAGE}: pip install face_recognition_models")
    root = Path(list(spec.submodule_search_locations)[0]) / "models"
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(root / "shape_predictor_5_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(root / "dlib_face_recognition_resnet_model_v1.dat")),
    )


def find_faces(image: np.ndarray, upsample: int = 1, min_score: float = 0.5) -> list[Face]:
    """Every face in a BGR frame scoring at least ``min_score``, with its embedding."""
    detector, landmarks, embedder = _models()
    rgb = np.ascontiguousarray(
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    )
    margin = math.log(min_score / (1 - min_score)) if 0 < min_score < 1 else (-10.0 if min_score <= 0 else 10.0)
    rects, margins, _ = detector.run(rgb, upsample, margin)
    if not rects:
        return []
    shapes = dlib.full_object_detections()
    for rect in rects:
        shapes.append(landmarks(rgb, rect))
    embeddings = embedder.compute_face_descriptor(rgb, shapes)
    return [
        Face(
            (float(r.left()), float(r.top()), float(r.right()), float(r.bottom())),
            1.0 / (1.0 + math.exp(-m)),
            np.asarray(e, np.float32),
        )
        for r, m, e in zip(rects, margins, embeddings)
    ]


class FacesBackend(Backend):
    """Faces and who they are; class 1 is ``face``. Needs a gallery (``edgecloud.gallery.FaceGallery``)."""

    key = "faces"
    labelmap = ("__background__", "face")
    uses_gallery = True

    def __init__(self, model, settings, gallery=None):
        super().__init__(model, settings)
        if gallery is None:
            raise DetectorUnavailable(
                "faces needs the enrolled faces' table (tables.faces); build it with "
                "edgecloud.detect.detector_for(settings)"
            )
        self.gallery = gallery
        self.upsample = settings.face_upsample
        _models()
        self.parameters = 5_600_000  # dlib's ResNet-29 embedding, about 5.6 M weights

    def infer(self, frames):
        out = []
        for frame in frames:
            faces = find_faces(frame, self.upsample, self.settings.min_score)
            if not faces:
                out.append(RawDetections.empty())
                continue
            out.append(
                RawDetections(
                    np.array([f.box for f in faces], np.float32),
                    np.array([f.score for f in faces], np.float32),
                    np.ones(len(faces), np.int64),
                    [self.gallery.match(f.embedding) for f in faces],
                )
            )
        return out
