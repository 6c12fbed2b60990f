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
(each phase: which frame comes first) and compares it with a reference run on
every frame: by the peak rule ``bench detect`` retired (``agreement_*``: same
labels, each label's most objects in one frame within 1), and on the user's
terms as ``bench detect`` now does (``agreement_labels``, ``agreement_counts``:
tracked objects, the pipeline's tracker on the sampled frames against it on
every frame from the same phase on). A Pi's clip starts
whenever the sensor fires, so which phase a clip gets is chance: a row holds
only when its worst phase does. Two speed figures, against the naive run's
cost (decode + the naive input on every frame):

- ``speedup_at_most``: over the detector's time on the sampled frames alone.
  The pipeline cannot beat it, so a row under the speed bar here fails it;
- ``speedup_estimate``: over decode + that time, as if decoding did not
  overlap detection (the pipeline's decode thread overlaps it in part; its
  motion gate is left out). ``bench detect`` measures the real figure.

For models that shrink frames: a full-size detector (HOG) gets the same frame
both ways here, where the pipeline would hand it motion regions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from edgecloud.pipeline import frame_detections
from edgecloud.protocol.labels import summarise
from edgecloud.protocol.messages import Detection
from edgecloud.video import fit_within, open_clip

from .counting import agreements
from .detect import max_counts, track_every_frame

INPUTS = ("naive", "pipeline")


@dataclass(frozen=True)
class Bars:
    """What a row must reach: a speed-up, and in its worst phase both agreements on tracked objects."""

    speedup: float = 5.0
    labels: float = 0.95
    counts: float = 0.90

    def met(self, speedup: float, labels: float | None, counts: float | None) -> bool:
        return speedup >= self.speedup and (labels or 0) >= self.labels and (counts or 0) >= self.counts


def agrees(a: dict[str, int], b: dict[str, int], tolerance: int = 1) -> bool:
    """The peak rule: same label set, and the most of each label in one frame within ``tolerance``.
    ``bench detect`` no longer judges by it (it measures detector flicker, not objects); this sweep still does."""
    return set(a) == set(b) and all(abs(a[k] - b[k]) <= tolerance for k in a)


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

    def tracked(self, source: str, step: int = 1, phase: int = 0, min_frames: int = 2) -> dict[str, int]:
        """Per label, the objects the pipeline's tracker follows over every ``step``-th frame from ``phase``."""
        frames = range(phase, len(self.found[source]), step)
        return track_every_frame([d for i in frames for d in self.found[source][i]], frames, self.fps, min_frames)

    def detect_s(self, source: str, step: int = 1) -> float:
        """The detector's seconds on every ``step``-th frame from the first."""
        return sum(self.seconds[source][::step])


def measure_clip(path: Path, detectors: dict, max_side) -> ClipFrames:
    """Decode the clip once (timed), then run both inputs on every frame, interleaved, so load hits both alike.

    ``detectors`` has one instance per input: a ``cv2.dnn`` net given a new input shape reallocates
    every layer (tens of ms), which neither way of working pays when it runs alone."""
    side = detectors["pipeline"].input_side(max_side)
    with open_clip(path) as clip:
        mark = time.perf_counter()
        decoded = list(clip.frames())
        frames = ClipFrames(path.name, clip.fps, decode_s=time.perf_counter() - mark)
    for frame in decoded:
        mark = time.perf_counter()
        frames.found["naive"].append(frame_detections(frame, detectors["naive"].detect([frame.image])[0]))
        middle = time.perf_counter()
        small, _ = fit_within(frame.image, side)
        frames.found["pipeline"].append(frame_detections(frame, detectors["pipeline"].detect([small])[0]))
        frames.seconds["naive"].append(middle - mark)
        frames.seconds["pipeline"].append(time.perf_counter() - middle)
    return frames


def sweep(clips: list[ClipFrames], steps: list[int], bars: Bars = Bars(), min_frames: int = 2) -> list[dict]:
    """One row per (reference, sampled input, step): agreement for each phase, and the two speed figures.

    ``agreement_*`` is the peak rule, shown for comparison only; ``agreement_labels`` and ``agreement_counts``
    (worst phase, as ``bench detect`` reports them) compare tracked objects, the reference tracked on every
    frame from the phase's first frame on. A row ``could_meet_both`` when its speed-up at most and both of
    these reach ``bars``."""
    shortest = min(len(c.seconds["naive"]) for c in clips)
    if max(steps) > shortest:
        raise ValueError(f"a step of {max(steps)} frames is longer than the shortest clip ({shortest} frames)")
    rows = []
    references: dict[tuple, dict[str, int]] = {}

    def every_frame(source: str, clip: ClipFrames, phase: int) -> dict[str, int]:
        key = (source, id(clip), phase)
        if key not in references:
            references[key] = clip.tracked(source, 1, phase, min_frames)
        return references[key]

    decode_s = sum(c.decode_s for c in clips)
    naive_cost = decode_s + sum(c.detect_s("naive") for c in clips)
    for reference in INPUTS:
        truth = [c.counts(reference) for c in clips]
        for sampled in INPUTS:
            for step in steps:
                by_phase = [
                    round(sum(agrees(t, c.counts(sampled, step, phase)) for t, c in zip(truth, clips)) / len(clips), 4)
                    for phase in range(step)
                ]
                tracked = agreements(
                    [
                        [
                            (every_frame(reference, c, phase), c.tracked(sampled, step, phase, min_frames))
                            for phase in range(step)
                        ]
                        for c in clips
                    ]
                )
                detect_s = sum(c.detect_s(sampled, step) for c in clips)
                at_most = round(naive_cost / detect_s, 2)
                rows.append(
                    {
                        "reference": reference,
                        "sampled": sampled,
                        "step": step,
                        "sample_fps": round(clips[0].fps / step, 2),
                        "agreement_by_phase": by_phase,
                        "agreement_first_phase": by_phase[0],
                        "agreement_worst_phase": min(by_phase),
                        "agreement_mean_over_phases": round(sum(by_phase) / step, 4),
                        "speedup_at_most": at_most,
                        "speedup_estimate": round(naive_cost / (decode_s + detect_s), 2),
                        "could_meet_both": bars.met(at_most, tracked["agreement_labels"], tracked["agreement_counts"]),
                        **tracked,
                    }
                )
    return rows


def report(detector, clips: list[ClipFrames], steps: list[int], bars: Bars = Bars(), min_frames: int = 2) -> dict:
    """The figures of a run; every clip must have the same frame rate (a step is a number of frames)."""
    if not clips:
        raise ValueError("no clips: the footage is shorter than half a clip")
    rates = {round(c.fps, 3) for c in clips}
    if len(rates) > 1:
        raise ValueError(
            f"clips at different frame rates ({', '.join(map(str, sorted(rates)))} fps): "
            "a step is a number of frames, so give footage of one rate"
        )
    frames = sum(len(c.seconds["naive"]) for c in clips)
    rows = sweep(clips, steps, bars, min_frames)
    return {
        "detector": detector.name,
        "weights": "random (labels meaningless; timings valid)" if detector.random_weights else "trained",
        "clips": len(clips),
        "frames": frames,
        "fps": clips[0].fps,
        "ms_per_frame": {
            "decode": round(1000 * sum(c.decode_s for c in clips) / frames, 2),
            **{source: round(1000 * sum(c.detect_s(source) for c in clips) / frames, 2) for source in INPUTS},
        },
        "bars": {"speedup": bars.speedup, "agreement_labels": bars.labels, "agreement_counts": bars.counts},
        "rows": rows,
        "any_could_meet_both": any(r["could_meet_both"] for r in rows if r["reference"] == "naive"),
        "per_clip": [{"clip": c.name, **{f"{s}_every_frame": c.counts(s) for s in INPUTS}} for c in clips],
    }
