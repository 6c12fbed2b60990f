"""``edgecloud bench detect``: the clip pipeline against the naive way and against decode alone.

All three run on the same clips in the same run, clip by clip, so the
ratios compare like with like on a busy machine:

- decode: every frame decoded and converted, nothing else (the floor);
- naive: every frame, full resolution, one at a time through the detector;
- pipeline: :func:`edgecloud.pipeline.analyse_clip` (sampling, motion gate, resize, batches).

What it found is judged on a camera user's terms (:mod:`.counting`): the
tracked objects per label (``unique``) of the pipeline against the same
detector and tracker on every frame, from every phase the sampling can start
on, and the people it counts against people counted by hand. The naive run's
per-frame peak, which the old agreement rule compared, is kept beside them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgecloud.pipeline import analyse_clip, naive_detect
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.labels import summarise
from edgecloud.protocol.messages import Detection
from edgecloud.tracking import ObjectTracker
from edgecloud.video import fit_within, open_clip

from .counting import agreements, counting_error, counts_within, same_labels
from .footage import drop_first

MODES = ("decode", "naive", "pipeline")


def max_counts(summary: dict) -> dict[str, int]:
    """Per label, the most objects in one frame (the naive per-frame peak)."""
    return {label: s.max_count for label, s in summary.items()}


def unique_counts(summary: dict) -> dict[str, int] | None:
    """Per label, the tracked objects (``unique``); None when no tracker ran (a label found has no ``unique``)."""
    if any(s.unique is None for s in summary.values()):
        return None
    return {label: s.unique for label, s in summary.items() if s.unique}


@dataclass
class PhaseCounts:
    """One clip sampled from one phase (its first ``phase`` frames dropped), against every frame from there on."""

    phase: int
    reference: dict[str, int]  # the same detector and tracker on every frame
    sampled: dict[str, int]  # the pipeline as configured (sampling, motion gate, resize, tracker)


@dataclass
class ClipRun:
    clip: str
    frames_total: int
    frames_analysed: int
    seconds: dict[str, float]
    naive_peak: dict[str, int]  # the naive run's most objects of a label in one frame
    tracked: dict[str, int] | None  # the pipeline's ``unique`` per label (phase 0: as a Pi runs it)
    phases: list[PhaseCounts] = field(default_factory=list)


@dataclass
class DetectBench:
    detector: str
    random_weights: bool
    runs: list[ClipRun] = field(default_factory=list)
    hand_counts: dict[str, int] = field(default_factory=dict)  # clip stem -> people counted by hand

    def seconds(self, mode: str, statistic) -> float:
        return statistic([r.seconds[mode] for r in self.runs])

    def figures(self, statistic) -> dict:
        """Speed figures from one per-clip statistic (median: robust to other jobs' bursts; mean: totals)."""
        per_clip = {m: self.seconds(m, statistic) for m in MODES}
        return {
            "speedup_vs_naive": round(per_clip["naive"] / per_clip["pipeline"], 2),
            "ratio_to_decode": round(per_clip["pipeline"] / per_clip["decode"], 2),
            "clips_per_s": round(1 / per_clip["pipeline"], 3),
            "clips_per_s_by_mode": {m: round(1 / s, 3) for m, s in per_clip.items()},
            "seconds_per_clip": {m: round(s, 4) for m, s in per_clip.items()},
        }

    def tracked(self) -> bool:
        """A tracker ran: every clip's result has ``unique`` for each label it found."""
        return bool(self.runs) and all(r.tracked is not None for r in self.runs)

    def on_users_terms(self) -> dict:
        """Agreement on tracked counts in the worst phase, and the counting error against the hand counts."""
        compared = self.tracked() and all(r.phases for r in self.runs)
        figures = agreements([[(p.reference, p.sampled) for p in r.phases] for r in self.runs] if compared else [])
        names = {Path(r.clip).stem: r for r in self.runs}
        error = (
            counting_error(
                self.hand_counts,
                {n: (r.tracked or {}).get("person", 0) for n, r in names.items()},
                {n: r.naive_peak.get("person", 0) for n, r in names.items()},
            )
            if self.tracked()
            else None
        )
        return {
            **figures,
            "phases": len(self.runs[0].phases) if compared else 0,
            "tracked": self.tracked(),
            "counting_error": error,
        }

    def report(self) -> dict:
        return {
            "detector": self.detector,
            "weights": "random (labels meaningless; timings valid)" if self.random_weights else "trained",
            "clips": len(self.runs),
            **self.on_users_terms(),
            "anything_detected": any(r.naive_peak or r.tracked for r in self.runs),
            "statistic": "median seconds per clip (the mean-based figures are under 'mean')",
            **self.figures(statistics.median),
            "mean": self.figures(statistics.fmean),
            "frames_total": sum(r.frames_total for r in self.runs),
            "frames_analysed": sum(r.frames_analysed for r in self.runs),
            "per_clip": [
                {
                    "clip": r.clip,
                    "naive_peak": r.naive_peak,
                    "tracked": r.tracked,
                    "phases": [
                        {
                            "phase": p.phase,
                            "reference": p.reference,
                            "sampled": p.sampled,
                            "same_labels": same_labels(p.reference, p.sampled),
                            "counts_within_1": counts_within(p.reference, p.sampled),
                        }
                        for p in r.phases
                    ],
                    "frames_analysed": r.frames_analysed,
                    "frames_total": r.frames_total,
                    "seconds": {k: round(v, 4) for k, v in r.seconds.items()},
                }
                for r in self.runs
            ],
        }


def phase_count(fps: float, sample_fps: float) -> int:
    """How many different frames a clip's sampling can start on: one per frame between two samples."""
    return max(1, round(fps / sample_fps)) if sample_fps < fps else 1


def _analyse(path: Path, detector, settings):
    result = analyse_clip(path, detector, settings, clip_id=new_clip_id("bench"), processed_by="bench")
    if result.status != "done":
        raise RuntimeError(f"{path.name}: {result.error}")
    return result


def track_every_frame(detections: list[Detection], frames: range, fps: float, min_frames: int) -> dict[str, int]:
    """The pipeline's tracker (same tuning, same ``min_frames``) over every frame in ``frames``: per label, its objects.
    Frames with nothing detected are fed too: tracks age by the clip's clock."""
    tracker = ObjectTracker(min_frames)
    by_frame: dict[int, list[Detection]] = {}
    for d in detections:
        by_frame.setdefault(d.frame, []).append(d)
    for index in frames:
        tracker.update(index / fps, by_frame.get(index, []), 0, 0)  # no zones here: the frame size is unused
    counts: dict[str, int] = {}
    for o in tracker.objects():
        counts[o.label] = counts.get(o.label, 0) + 1
    return counts


def run_bench(
    clips: list[Path], detector, settings, naive_detector=None, progress=None, hand_counts: dict[str, int] | None = None
) -> DetectBench:
    """Time each clip three ways; ``naive_detector`` (None: no naive run) is a second instance of the
    same model, as a ``cv2.dnn`` net reallocates its layers whenever its input shape changes and
    neither way of working pays for switching to the other's frames when it runs alone. The naive run
    tracks its detections with the pipeline's tracker on every frame (timed with it).

    With a naive run, each clip is also sampled from every other phase (untimed: the clip with its
    first frames dropped) and compared with the naive run's tracker on every frame from there on."""
    bench = DetectBench(detector.name, detector.random_weights, hand_counts=dict(hand_counts or {}))
    with open_clip(
        clips[0]
    ) as clip:  # warm-up, each on its own frame size: first-call allocations are not per-clip cost
        first = next(clip.frames()).image
        phases = phase_count(clip.fps, settings.sample_fps)
    detector.detect([fit_within(first, detector.input_side(settings.max_side))[0]])
    if naive_detector is not None:
        naive_detector.detect([first])
    for path in clips:
        seconds = {}
        mark = time.perf_counter()
        with open_clip(path) as clip:
            fps, frames = clip.fps, sum(1 for _ in clip.frames())
        seconds["decode"] = time.perf_counter() - mark

        def every_frame_from(phase: int, every_frame: list, frames: int, fps: float) -> dict[str, int]:
            return track_every_frame(
                [d for d in every_frame if d.frame >= phase], range(phase, frames), fps, settings.min_frames
            )

        mark = time.perf_counter()
        every_frame = naive_detect(path, naive_detector) if naive_detector else []
        reference = every_frame_from(0, every_frame, frames, fps) if naive_detector else None
        seconds["naive"] = time.perf_counter() - mark

        mark = time.perf_counter()
        result = _analyse(path, detector, settings)
        seconds["pipeline"] = time.perf_counter() - mark
        run = ClipRun(
            path.name,
            result.frames_total,
            result.frames_analysed,
            seconds,
            max_counts(summarise(every_frame)[1]),
            unique_counts(result.summary),
        )
        if reference is not None and run.tracked is not None:
            run.phases.append(PhaseCounts(0, reference, run.tracked))
            for phase in range(1, phases):
                shifted = drop_first(path, phase, path.with_name(f"{path.stem}-from-{phase}{path.suffix}"))
                sampled = unique_counts(_analyse(shifted, detector, settings).summary) or {}
                run.phases.append(PhaseCounts(phase, every_frame_from(phase, every_frame, frames, fps), sampled))
                shifted.unlink()
        bench.runs.append(run)
        if progress:
            progress(run)
    return bench
