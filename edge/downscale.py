"""Smaller clips before upload (the thesis's finding: resolution and quality buy bandwidth).

Re-encodes a clip to ``width`` pixels wide (height keeps the aspect, even)
at x264 ``crf``, keeping each frame's timestamp.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av


def downscale(src: Path, dst: Path, width: int, crf: int = 28) -> tuple[int, int]:
    """Write a smaller copy of ``src`` to ``dst`` (MP4); returns (bytes before, bytes after)."""
    src, dst = Path(src), Path(dst)
    with av.open(str(src)) as inp, av.open(str(dst), mode="w", format="mp4") as out:
        source = inp.streams.video[0]
        source.thread_type = "AUTO"
        rate = source.average_rate or source.guessed_rate or Fraction(10)
        scale = min(1.0, width / source.codec_context.width)
        w = max(2, int(source.codec_context.width * scale) // 2 * 2)
        h = max(2, int(source.codec_context.height * scale) // 2 * 2)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf)}
        time_base = Fraction(1, 1000)
        stream.codec_context.time_base = time_base
        first = None
        for index, frame in enumerate(inp.decode(source)):
            t = frame.time if frame.time is not None else index / float(rate)
            first = t if first is None else first
            small = frame.reformat(width=w, height=h, format="yuv420p")
            small.pts, small.time_base = round((t - first) * 1000), time_base
            for packet in stream.encode(small):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return src.stat().st_size, dst.stat().st_size
