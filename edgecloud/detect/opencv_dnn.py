"""``opencv-dnn``: a YOLO-style model through ``cv2.dnn``, for the Pi (no torch needed).

Either Darknet (``detector.config_file`` = the .cfg, ``detector.weights`` = the
.weights, as the seed project ran YOLO) or ONNX (``detector.weights`` = the
.onnx). The model's output rows must be YOLO's ``cx, cy, w, h, objectness,
class scores...``: normalised to 0-1 for Darknet, input pixels for ONNX
exports (YOLOv5 style). Class names are COCO's 80.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from .base import Backend, DetectorUnavailable, RawDetections
from .coco import COCO80

DEFAULT_SIDE = 416
SCORE_FLOOR = 0.05  # rows below this are noise; min_score is applied later, as for every backend
NMS_IOU = 0.45
STRIDE = 32  # YOLO's coarsest grid cell: the input's sides must be multiples of it


def _need(path, what: str) -> Path:
    if not path:
        raise DetectorUnavailable(f"opencv-dnn needs {what}")
    if not Path(path).is_file():
        raise DetectorUnavailable(f"opencv-dnn: {what} not found at {path}")
    return Path(path)


def _cfg_side(cfg_text: str) -> int | None:
    match = re.search(r"^\s*width\s*=\s*(\d+)", cfg_text, re.MULTILINE)
    return int(match.group(1)) if match else None


class OpenCvDnnBackend(Backend):
    """YOLO through OpenCV's DNN module (CPU)."""

    key = "opencv-dnn"
    labelmap = COCO80

    def __init__(self, model, settings):
        super().__init__(model, settings)
        weights = _need(settings.weights, "detector.weights: a Darknet .weights or an .onnx file")
        if weights.suffix.lower() == ".onnx":
            self._load(weights, None)
        else:
            self._load(
                weights, _need(settings.config_file, "detector.config_file: the Darknet .cfg beside the .weights")
            )

    def _load(self, weights: Path, cfg: Path | None, cfg_text: str | None = None) -> None:
        """Read an ONNX model (``cfg`` None) or a Darknet .cfg + .weights pair into ``self.net``;
        ``cfg_text`` replaces the .cfg file's own text (a corrected description)."""
        try:
            if cfg is None:
                self.net = cv2.dnn.readNetFromONNX(str(weights))
                self.normalised, side = False, None
            elif cfg_text is not None:
                self.net = cv2.dnn.readNetFromDarknet(
                    np.frombuffer(cfg_text.encode(), np.uint8), np.fromfile(weights, np.uint8)
                )
                self.normalised, side = True, _cfg_side(cfg_text)
            else:
                self.net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
                self.normalised, side = True, _cfg_side(cfg.read_text(errors="replace"))
        except cv2.error as err:
            raise DetectorUnavailable(f"{self.key} cannot load {weights}: {err}") from err
        self.side = self.settings.model_input or side or DEFAULT_SIDE
        self.input_side = self.side  # the pipeline shrinks frames to it, and _blob_size keeps their shape
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.parameters = int(weights.stat().st_size // 4)  # float32 weights: a fair size estimate

    def _blob_size(self, frame) -> tuple[int, int]:
        """The network's input (width, height) for a frame.

        Frames already shrunk to the model's side (the pipeline does that) keep
        their aspect ratio, each side rounded up to the stride: 4:3 footage runs
        at 416x320: 23 % fewer pixels than 416x416 (faster or not within a shared VM's noise: docs/detectors.md), not
        squashed (rectangular inference, as Ultralytics' YOLOv3 does). Bigger
        frames, as a caller hands them over untouched, and ONNX models (often
        exported for one input size) get the square.
        """
        h, w = frame.shape[:2]
        if self.normalised and max(h, w) <= self.side:
            scale = self.side / max(h, w)
            return tuple(-(-round(v * scale) // STRIDE) * STRIDE for v in (w, h))
        return self.side, self.side

    def infer(self, frames):
        # One frame a blob: a net given a new input shape reallocates every layer (~80 ms for
        # YOLOv3-tiny here), and a clip's last, shorter batch would change it twice a clip.
        # Batches save nothing on the CPU, so a steady 1x3xHxW is the fast way.
        return [self._infer_one(frame) for frame in frames]

    def _infer_one(self, frame):
        size = self._blob_size(frame)
        self.net.setInput(cv2.dnn.blobFromImage(frame, 1 / 255.0, size, swapRB=True, crop=False))
        # Each output is (rows, 5 + classes), or (1, rows, 5 + classes).
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in self.net.forward(self.outputs)])
        return self._decode(rows, frame.shape, size)

    def _decode(self, rows: np.ndarray, shape, size: tuple[int, int]) -> RawDetections:
        if rows.shape[1] < 6:
            raise RuntimeError(f"opencv-dnn: output rows have {rows.shape[1]} values, expected 5 + classes")
        class_scores = rows[:, 5:]
        classes = class_scores.argmax(axis=1)
        scores = rows[:, 4] * class_scores[np.arange(len(rows)), classes]
        keep = scores >= SCORE_FLOOR
        rows, classes, scores = rows[keep], classes[keep], scores[keep]
        h, w = shape[:2]
        sx, sy = (w, h) if self.normalised else (w / size[0], h / size[1])
        cx, cy, bw, bh = rows[:, 0] * sx, rows[:, 1] * sy, rows[:, 2] * sx, rows[:, 3] * sy
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
        if not len(boxes):
            return RawDetections.empty()
        xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        keep = np.ravel(cv2.dnn.NMSBoxesBatched(xywh, scores.tolist(), classes.tolist(), SCORE_FLOOR, NMS_IOU))
        keep = keep.astype(int)
        return RawDetections(boxes[keep], scores[keep].astype(np.float32), classes[keep].astype(np.int64))
