"""``edgecloud bench sampling``: for every sampling step, how fast the pipeline could be and how often it agrees.

``bench detect`` measures the pipeline as configured. This asks what any
sampling rate could reach, so that a speed bar and an agreement bar can be
checked against each other. Every frame of every clip goes through the
detector twice, back to back, each timed:

- **naive input**: the whole frame, as the naive run hands it over (YOLO
  squashes it into its square);
- **pipeline input**: the frame shrunk to the model's side, its shape kept
  (what :func:`edgecloud.pipeline.analyse_clip` hands over).

From those detections, each row keeps every ``step``-th frame of one input
(each phase: which frame comes first) and applies ``bench detect``'s clip
agreement rule against a reference run on every frame. The speedup is a
floor on the pipeline's cost, not a measurement of it: (decode + naive input
on every frame) / (decode + pipeline input on the frames sampled from the
first), leaving out the motion gate and batching that ``bench detect`` times.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from edgecloud.jobs import Detection, summarise
from edgecloud.video import fit_within, open_clip

from .detect import agrees, max_counts

INPUTS = ("naive", "pipeline")


@dataclass
class ClipFrames:
    """One clip's detections per frame for each input, and the seconds each input's detector calls took."""

    name: str
    fps: float
    decode_s: float = 0.0
    found: dict[str, list[list[Detection]]] = field(default_factory=lambda: {i: [] for i in INPUTS})
    seconds: dict[str, list[float]] = field(default_factory=lambda: {i: [] for i in INPUTS})

    def counts(self, source: str, step: int = 1, phase: int = 0) -> dict[str, int]:
        """Per label, the most objects in one frame among every ``step``-th frame from ``phase``."""
        sampled = self.found[source][phase::step]
        return max_counts(summarise([d for frame in sampled for d in frame])[1])

    def cost(self, source: str, step: int = 1) -> float:
        """Decode, plus the detector on every ``step``-th frame from the first."""
        return self.decode_s + sum(self.seconds[source][::step])


def _boxes(detector, image, frame: int) -> list[Detection]:
    return [Detection(t=0.0, frame=frame, label=b.label, score=b.score, box=b.box) for b in detector.detect([image])[0]]


def measure_clip(path: Path, detectors: dict, max_side) -> ClipFrames:
    """Decode the clip once (timed), then run both inputs on every frame, interleaved, so load hits both alike.

    ``detectors`` has one instance per input: a ``cv2.dnn`` net given a new input shape reallocates
    every layer (tens of ms), which neither way of working pays when it runs alone."""
    side = detectors["pipeline"].input_side(max_side)
    with open_clip(path) as clip:
        mark = time.perf_counter()
        images = [frame.image for frame in clip.frames()]
        frames = ClipFrames(path.name, clip.fps, decode_s=time.perf_counter() - mark)
    for index, image in enumerate(images):
        mark = time.perf_counter()
        frames.found["naive"].append(_boxes(detectors["naive"], image, index))
        middle = time.perf_counter()
        small, _ = fit_within(image, side)
        frames.found["pipeline"].append(_boxes(detectors["pipeline"], small, index))
        frames.seconds["naive"].append(middle - mark)
        frames.seconds["pipeline"].append(time.perf_counter() - middle)
    return frames


def sweep(clips: list[ClipFrames], steps: list[int], speedup_bar: float, agreement_bar: float) -> list[dict]:
    """One row per (reference, sampled input, step): agreement for each phase, and the speedup floor."""
    rows = []
    naive_cost = sum(c.cost("naive") for c in clips)
    for reference in INPUTS:
        truth = [c.counts(reference) for c in clips]
        for sampled in INPUTS:
            for step in steps:
                by_phase = [round(sum(agrees(t, c.counts(sampled, step, phase)) for t, c in zip(truth, clips)) / len(clips), 4)
                            for phase in range(step)]
                speedup = round(naive_cost / sum(c.cost(sampled, step) for c in clips), 2)
                rows.append({
                    "reference": reference, "sampled": sampled, "step": step,
                    "sample_fps": round(clips[0].fps / step, 2),
                    "agreement_by_phase": by_phase, "agreement_first_phase": by_phase[0],
                    "agreement_worst_phase": min(by_phase), "speedup_floor": speedup,
                    "meets_both": speedup >= speedup_bar and min(by_phase) >= agreement_bar,
                })
    return rows


def report(detector, clips: list[ClipFrames], steps: list[int], speedup_bar: float, agreement_bar: float) -> dict:
    frames = sum(len(c.seconds["naive"]) for c in clips)
    rows = sweep(clips, steps, speedup_bar, agreement_bar)
    return {
        "detector": detector.name,
        "clips": len(clips),
        "frames": frames,
        "ms_per_frame": {
            "decode": round(1000 * sum(c.decode_s for c in clips) / frames, 2),
            **{source: round(1000 * sum(sum(c.seconds[source]) for c in clips) / frames, 2) for source in INPUTS},
        },
        "bars": {"speedup": speedup_bar, "agreement": agreement_bar},
        "rows": rows,
        "any_meets_both": any(r["meets_both"] for r in rows if r["reference"] == "naive"),
        "per_clip": [{"clip": c.name, **{f"{s}_every_frame": c.counts(s) for s in INPUTS}} for c in clips],
    }
