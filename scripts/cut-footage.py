"""Cuts the two short clips the tests use from vtest.avi, as ../shared/footage has them:
the first 5 s as H.264 in MP4, and 5 s from 20 s as a raw H.264 stream (no container).
Usage: python scripts/cut-footage.py DIR  (DIR holds vtest.avi)."""

import sys
from pathlib import Path

import av


def cut(src: Path, dest: Path, start_s: float, seconds: float, container_format: str | None) -> None:
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        fps = float(stream.average_rate or 10)
        first, count = round(start_s * fps), round(seconds * fps)
        with av.open(str(dest), "w", format=container_format) as out:
            enc = out.add_stream("libx264", rate=round(fps))
            enc.width, enc.height, enc.pix_fmt = stream.width, stream.height, "yuv420p"
            for i, frame in enumerate(inp.decode(stream)):
                if i >= first + count:
                    break
                if i >= first:
                    frame = frame.reformat(format="yuv420p")
                    frame.pts = i - first
                    out.mux(enc.encode(frame))
            out.mux(enc.encode(None))


def main(folder: str) -> None:
    root = Path(folder)
    src = root / "vtest.avi"
    if not (root / "vtest-5s.mp4").exists():
        cut(src, root / "vtest-5s.mp4", 0, 5, None)
    if not (root / "vtest-20s-5s.h264").exists():
        cut(src, root / "vtest-20s-5s.h264", 20, 5, "h264")
    print(f"footage: short clips cut in {root}")


if __name__ == "__main__":
    main(sys.argv[1])
