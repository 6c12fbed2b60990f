"""``a+b``: several backends in one pass over the same frames, e.g. ``darknet:yolov3-tiny+faces``.

The frames are decoded, sampled and gated once; each backend sees them and
their outputs are joined. Class ids are shifted so each keeps its own
labels; frames are shrunk only as far as every member allows.
"""

from __future__ import annotations

import numpy as np

from .base import Backend, RawDetections


class CombinedBackend(Backend):
    key = "combined"

    def __init__(self, members: list[Backend], settings):
        super().__init__("+".join(f"{m.key}:{m.model}" if m.model else m.key for m in members), settings)
        self.members = members
        self.offsets, labelmap = [], []
        for member in members:
            self.offsets.append(len(labelmap))
            labelmap.extend(member.labelmap)
        self.labelmap = tuple(labelmap)
        self.resizable = all(m.resizable for m in members)
        sides = [m.input_side for m in members]
        self.input_side = None if None in sides else max(sides)
        self.random_weights = any(m.random_weights for m in members)
        self.parameters = sum(m.parameters for m in members)

    def infer(self, frames):
        per_member = [member.infer(frames) for member in self.members]
        out = []
        for raws in zip(*per_member):
            raws = [(raw, offset) for raw, offset in zip(raws, self.offsets) if len(raw)]
            if not raws:
                out.append(RawDetections.empty())
                continue
            identities = [pair for raw, _ in raws for pair in (raw.identities or [(None, None)] * len(raw))]
            out.append(
                RawDetections(
                    np.concatenate([raw.boxes for raw, _ in raws]).astype(np.float32),
                    np.concatenate([raw.scores for raw, _ in raws]).astype(np.float32),
                    np.concatenate([raw.classes + offset for raw, offset in raws]).astype(np.int64),
                    identities if any(name is not None for name, _ in identities) else None,
                )
            )
        return out
