"""The ``detector:`` settings section: which backend finds objects in a clip's frames, and how.

Read wherever a clip is analysed (a worker, the function, the Pi); the backends are edgecloud/detect/.
``edgecloud.settings`` gathers every section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from .sections import Section


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
