"""Video bombs: clips small on the wire and huge to decode, written in about a second.

One black frame is encoded once (H.264, every frame a keyframe) and its packet muxed again and
again, so a bomb costs what one frame costs to encode, whatever its frame count:
- ``pixels``: 50 frames of 8190x8190 in MP4 (~10 MB; 3.3 GB as decoded BGR frames);
- ``frames``: 24,000 frames of 640x480 in MP4 (40 min at 10 fps);
- ``duration``: 3 frames of 640x480 spread over 15 minutes;
- ``at-limits``: no bomb, the largest clip the defaults take: 3600 frames of 3840x2160 in 120 s.
Each bomb breaks one default limit (``limits.*``) and keeps the others.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Literal

import av

Kind = Literal["pixels", "frames", "duration", "at-limits"]
# kind: (width, height, frames, seconds between frames)
BOMBS: dict[str, tuple[int, int, int, float]] = {
    "pixels": (8190, 8190, 50, 0.1),
    "frames": (640, 480, 24_000, 0.1),
    "duration": (640, 480, 3, 300.0),
    "at-limits": (3840, 2160, 3600, 1 / 30),
}


def write_bomb_clip(path: str | Path, kind: Kind = "pixels") -> Path:
    """Write a bomb clip of ``kind`` (see the module docstring) to ``path`` (.mp4); returns the path."""
    width, height, count, spacing = BOMBS[kind]
    path = Path(path)
    rate = Fraction(spacing).limit_denominator(1000)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1 / rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "x264-params": "keyint=1"}
        black = av.VideoFrame(width, height, "yuv420p")
        for plane, level in zip(black.planes, (16, 128, 128)):  # black in studio range
            plane.update(bytes([level]) * plane.buffer_size)
        black.pts = 0
        encoded = [bytes(p) for p in stream.encode(black)] + [bytes(p) for p in stream.encode()]
        for index in range(count):
            packet = av.Packet(encoded[0])
            packet.stream = stream
            packet.time_base = rate
            packet.pts = packet.dts = index
            packet.duration = 1
            packet.is_keyframe = True
            out.mux(packet)
    return path
