"""What a camera's user counts, measured: agreement of the sampled pipeline with every frame, and counting error.

A clip's counts here are per label the tracked objects (``LabelSummary.unique``),
each object once however long it stays. Two agreements, each per phase (which
frame a clip's sampling starts on: a Pi's clip starts whenever its sensor
fires, so the phase is chance) and reported in the worst one:

- ``labels``: the sampled pipeline finds the same label set as the same
  detector and tracker on every frame;
- ``counts``: per label, the sampled ``unique`` within ``tolerance`` (1) of
  every frame's (a label one side lacks counts as 0 there).

The counting error is the mean absolute error of a clip's distinct people
against people counted by hand (``groundtruth/people.json``).
"""

from __future__ import annotations

from statistics import fmean
from typing import Mapping, Sequence

Counts = Mapping[str, int]


def same_labels(reference: Counts, sampled: Counts) -> bool:
    """Both found the same labels (a label counted 0 is not found)."""
    return {k for k, v in reference.items() if v} == {k for k, v in sampled.items() if v}


def counts_within(reference: Counts, sampled: Counts, tolerance: int = 1) -> bool:
    """Every label's count within ``tolerance``; a label one side lacks is 0 there."""
    return all(abs(reference.get(k, 0) - sampled.get(k, 0)) <= tolerance for k in {*reference, *sampled})


def agreement_by_phase(pairs: Sequence[Sequence[tuple[Counts, Counts]]], rule) -> list[float]:
    """Per phase, the share of clips whose (reference, sampled) counts pass ``rule``.

    ``pairs[clip][phase]`` is that clip's pair at that phase; every clip has the same phases."""
    if not pairs:
        return []
    phases = {len(p) for p in pairs}
    if len(phases) != 1:
        raise ValueError(f"clips with different numbers of phases: {sorted(phases)}")
    return [round(sum(rule(*clip[phase]) for clip in pairs) / len(pairs), 4) for phase in range(phases.pop())]


def agreements(pairs: Sequence[Sequence[tuple[Counts, Counts]]]) -> dict:
    """``agreement_labels`` and ``agreement_counts`` in their worst phase, and each phase's figure."""
    labels, counts = agreement_by_phase(pairs, same_labels), agreement_by_phase(pairs, counts_within)
    return {
        "agreement_labels": min(labels, default=None),
        "agreement_labels_by_phase": labels,
        "agreement_counts": min(counts, default=None),
        "agreement_counts_by_phase": counts,
    }


def mean_absolute_error(truth: Mapping[str, int], estimates: Mapping[str, int]) -> float | None:
    """Mean of |estimate - truth| over the clips ``truth`` names (None when it names none of ``estimates``' clips)."""
    clips = [c for c in truth if c in estimates]
    return round(fmean(abs(estimates[c] - truth[c]) for c in clips), 3) if clips else None


def counting_error(
    truth: Mapping[str, int], tracked: Mapping[str, int], naive_peak: Mapping[str, int], label: str = "person"
) -> dict:
    """The tracked pipeline's distinct ``label`` count against the hand count, beside the naive per-frame peak's."""
    clips = [c for c in truth if c in tracked]
    return {
        "label": label,
        "clips": len(clips),
        "tracked_mae": mean_absolute_error(truth, tracked),
        "naive_peak_mae": mean_absolute_error(truth, naive_peak),
        "per_clip": [
            {"clip": c, "counted_by_hand": truth[c], "tracked": tracked[c], "naive_peak": naive_peak.get(c)}
            for c in clips
        ],
    }
