"""``edgecloud bench detect``: the clip pipeline against the naive way and against decode alone.

All three run on the same clips in the same run, clip by clip, so the
ratios compare like with like on a busy machine:

- decode: every frame decoded and converted, nothing else (the floor);
- naive: every frame, full resolution, one at a time through the detector;
- pipeline: :func:`edgecloud.pipeline.analyse_clip` (sampling, motion gate, resize, batches).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.labels import summarise
from edgecloud.pipeline import analyse_clip, naive_detect
from edgecloud.video import fit_within, open_clip


MODES = ("decode", "naive", "pipeline")


def decode_only(path: Path) -> int:
    with open_clip(path) as clip:
        return sum(1 for _ in clip.frames())


def max_counts(summary: dict) -> dict[str, int]:
    """Per label, the most objects in one frame."""
    return {label: s.max_count for label, s in summary.items()}


def steady_counts(summary: dict) -> dict[str, int]:
    """Per label seen in at least two analysed frames, the most objects two frames showed (flickers left out)."""
    return {label: s.steady_count for label, s in summary.items() if s.steady_count}


def agrees(a: dict[str, int], b: dict[str, int], tolerance: int = 1) -> bool:
    """Same label set, and the most of each label in one frame within ``tolerance``."""
    return set(a) == set(b) and all(abs(a[k] - b[k]) <= tolerance for k in a)


@dataclass
class ClipRun:
    clip: str
    frames_total: int
    frames_analysed: int
    seconds: dict[str, float]
    naive: dict[str, int]  # one-frame maxima: what agreement compares
    pipeline: dict[str, int]
    naive_steady: dict[str, int] = field(default_factory=dict)  # steady counts (seen in two analysed frames)
    pipeline_steady: dict[str, int] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return agrees(self.naive, self.pipeline)

    @property
    def agrees_steady(self) -> bool:
        return agrees(self.naive_steady, self.pipeline_steady)


@dataclass
class DetectBench:
    detector: str
    random_weights: bool
    runs: list[ClipRun] = field(default_factory=list)

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

    def report(self) -> dict:
        n = len(self.runs)
        return {
            "detector": self.detector,
            "weights": "random (labels meaningless; timings valid)" if self.random_weights else "trained",
            "clips": n,
            "agreement": round(sum(r.agrees for r in self.runs) / n, 4) if n else None,
            "agreement_steady": round(sum(r.agrees_steady for r in self.runs) / n, 4) if n else None,
            "anything_detected": any(r.naive or r.pipeline for r in self.runs),
            "statistic": "median seconds per clip (the mean-based figures are under 'mean')",
            **self.figures(statistics.median),
            "mean": self.figures(statistics.fmean),
            "frames_total": sum(r.frames_total for r in self.runs),
            "frames_analysed": sum(r.frames_analysed for r in self.runs),
            "per_clip": [
                {"clip": r.clip, "agrees": r.agrees, "naive": r.naive, "pipeline": r.pipeline,
                 "agrees_steady": r.agrees_steady, "naive_steady": r.naive_steady,
                 "pipeline_steady": r.pipeline_steady,
                 "frames_analysed": r.frames_analysed, "frames_total": r.frames_total,
                 "seconds": {k: round(v, 4) for k, v in r.seconds.items()}}
                for r in self.runs
            ],
        }


def run_bench(clips: list[Path], detector, settings, naive_detector=None, progress=None) -> DetectBench:
    """Time each clip three ways; ``naive_detector`` (None: no naive run) is a second instance of the
    same model, as a ``cv2.dnn`` net reallocates its layers whenever its input shape changes and
    neither way of working pays for switching to the other's frames when it runs alone."""
    bench = DetectBench(detector.name, detector.random_weights)
    with open_clip(clips[0]) as clip:  # warm-up, each on its own frame size: first-call allocations are not per-clip cost
        first = next(clip.frames()).image
    detector.detect([fit_within(first, detector.input_side(settings.max_side))[0]])
    if naive_detector is not None:
        naive_detector.detect([first])
    for path in clips:
        seconds = {}
        mark = time.perf_counter()
        decode_only(path)
        seconds["decode"] = time.perf_counter() - mark

        mark = time.perf_counter()
        naive_summary = summarise(naive_detect(path, naive_detector))[1] if naive_detector else {}
        seconds["naive"] = time.perf_counter() - mark

        mark = time.perf_counter()
        result = analyse_clip(path, detector, settings, clip_id=new_clip_id("bench"), processed_by="bench")
        seconds["pipeline"] = time.perf_counter() - mark
        if result.status != "done":
            raise RuntimeError(f"{path.name}: {result.error}")
        bench.runs.append(ClipRun(path.name, result.frames_total, result.frames_analysed, seconds,
                                  max_counts(naive_summary), max_counts(result.summary),
                                  steady_counts(naive_summary), steady_counts(result.summary)))
        if progress:
            progress(bench.runs[-1])
    return bench
