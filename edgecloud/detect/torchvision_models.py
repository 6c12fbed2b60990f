"""``torchvision:<model>``: the torchvision detection models the thesis compared.

Weights, in order: ``detector.weights`` (a local state dict), else torchvision's
default weights (downloaded once into the torch hub cache), else, with
``detector.pretrained: false``, random weights for tests and offline
benchmarks (labels are then meaningless). GPU when present, half precision
there, frames batched. Needs the ``torch`` extra: ``pip install 'edgecloud[torch]'``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torchvision.models import detection, get_model_weights
from torchvision.ops import FrozenBatchNorm2d

from .base import Backend, DetectorUnavailable, RawDetections

log = logging.getLogger(__name__)

MODELS = (
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_resnet50_fpn",
    "retinanet_resnet50_fpn",
    "maskrcnn_resnet50_fpn",
    "fcos_resnet50_fpn",
    "keypointrcnn_resnet50_fpn",
    "ssdlite320_mobilenet_v3_large",
    "ssd300_vgg16",
)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DetectorUnavailable(f"detector.device is {name!r} but torch sees no CUDA GPU")
    return device


def cached_weights_path(weights) -> Path:
    """Where torchvision keeps (or would download) default weights: the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def read_state_dict(path: Path) -> dict:
    if not Path(path).is_file():
        raise DetectorUnavailable(f"weights file not found: {path} (detector.weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a bad file
        raise DetectorUnavailable(f"weights file {path} is not a torch state dict: {err}") from err
    for key in ("model", "state_dict"):  # training checkpoints wrap the weights
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def freeze_batch_norms_like(net: torch.nn.Module, state: dict) -> None:
    """Use frozen batch norm where the checkpoint has it, as torchvision does when it builds trained models.

    A frozen batch norm saves no step counter, so a batch norm whose
    ``num_batches_tracked`` is missing from the checkpoint was frozen (with
    its own epsilon, which can differ from the untrained module's).
    """
    for name, module in list(net.named_modules()):
        if (
            isinstance(module, torch.nn.BatchNorm2d)
            and f"{name}.running_mean" in state
            and f"{name}.num_batches_tracked" not in state
        ):
            parent, _, child = name.rpartition(".")
            setattr(net.get_submodule(parent) if parent else net, child, FrozenBatchNorm2d(module.num_features))


class TorchvisionBackend(Backend):
    """One torchvision detection model; labels from its weights' COCO category list."""

    key = "torchvision"

    def __init__(self, model, settings):
        super().__init__(model, settings)
        if model not in MODELS:
            raise DetectorUnavailable(f"torchvision detector {model!r} unknown; choose one of {', '.join(MODELS)}")
        builder = getattr(detection, model)
        default = get_model_weights(builder).DEFAULT
        self.labelmap = tuple(default.meta["categories"])
        self.device = pick_device(settings.device)
        self.half = self.device.type == "cuda"
        self.net = self._build(builder, default, settings)
        self._resize_input(settings.model_input)
        heads = getattr(self.net, "roi_heads", self.net)  # R-CNNs keep the cap on their heads
        heads.detections_per_img = settings.max_detections
        self.net.eval().to(self.device)
        if self.half:
            self.net.half()
        self.parameters = sum(p.numel() for p in self.net.parameters())

    def _build(self, builder, default, settings):
        random = dict(weights=None, weights_backbone=None, num_classes=len(self.labelmap))
        if not settings.pretrained:
            self.random_weights = True
            log.warning(
                "torchvision:%s has RANDOM weights (detector.pretrained is false): labels are meaningless", self.model
            )
            return builder(**random)
        if settings.weights:
            state = read_state_dict(settings.weights)
            net = builder(**random)
            freeze_batch_norms_like(net, state)
            try:
                net.load_state_dict(state)
            except RuntimeError as err:
                raise DetectorUnavailable(f"{settings.weights} does not fit torchvision:{self.model}: {err}") from err
            return net
        cached = cached_weights_path(default)
        try:
            return builder(weights=default)  # from the hub cache, downloading once if absent
        except Exception as err:  # offline: URLError, socket errors, hash mismatch
            raise DetectorUnavailable(
                f"trained weights for torchvision:{self.model} are not in the torch hub cache and could not be "
                f"downloaded ({err.__class__.__name__}: {err}). Put {default.url} at {cached}, or set "
                f"detector.weights to a local copy, or detector.pretrained: false for random weights."
            ) from err

    def _resize_input(self, model_input):
        transform = self.net.transform
        if model_input and transform.fixed_size is None:
            transform.max_size = round(model_input * transform.max_size / transform.min_size[0])
            transform.min_size = (model_input,)
        self.input_side = max(transform.fixed_size) if transform.fixed_size else transform.max_size

    def infer(self, frames):
        # A GPU takes the whole batch at once; on CPU batching was measured slower (padding, cache), so one by one.
        if self.device.type != "cuda":
            return [found for frame in frames for found in self._infer_safely([frame])]
        return self._infer_safely(frames)

    def _infer_safely(self, frames):
        try:
            return self._infer(frames)
        except RuntimeError as err:
            if not self.half:
                raise
            # Some ops lack a float16 kernel on some GPUs/versions: full precision still works.
            log.warning("torchvision:%s failed in half precision (%s); using float32", self.model, err)
            self.half = False
            self.net.float()
            return self._infer(frames)

    @torch.inference_mode()
    def _infer(self, frames):
        dtype = torch.float16 if self.half else torch.float32
        batch = [
            torch.from_numpy(np.ascontiguousarray(f[:, :, ::-1])).to(self.device).permute(2, 0, 1).to(dtype) / 255
            for f in frames
        ]
        out = []
        for found in self.net(batch):
            out.append(
                RawDetections(
                    found["boxes"].float().cpu().numpy(),
                    found["scores"].float().cpu().numpy(),
                    found["labels"].cpu().numpy().astype(np.int64),
                )
            )
        return out
