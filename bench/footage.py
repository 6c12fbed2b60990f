"""Real footage for the benchmarks, cut into clips like the ones a Pi uploads (H.264 in MP4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable, Optional

import av
import click

from edgecloud.video import open_clip

DEFAULT_FOOTAGE = Path("../shared/footage/vtest.avi")
DEFAULT_CLIP = Path("../shared/footage/vtest-5s.mp4")  # what the upload, load and fault benches' Pis send


def clip_option(help: str):
    """``--clip``: the real clip a bench's Pis send (a 5 s cut of vtest unless told)."""
    return click.option(
        "--clip",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=DEFAULT_CLIP,
        show_default=True,
        help=help,
    )


def _writer(path: Path, fps: float, width: int, height: int):
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"preset": "veryfast", "crf": "23"}
    return container, stream


def _write(path: Path, fps: float, images: list) -> Path:
    h, w = images[0].shape[:2]
    container, stream = _writer(path, fps, w, h)
    for image in images:
        container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
    container.mux(stream.encode())
    container.close()
    return path


def drop_first(clip: Path, frames: int, out: Path) -> Path:
    """The clip without its first ``frames`` frames, as ``out``: the same scene, its sampling shifted by that much."""
    with open_clip(clip) as source:
        images = [frame.image for frame in source.frames()][frames:]
        fps = source.fps
    if not images:
        raise ValueError(f"{clip.name} has no more than {frames} frames")
    return _write(out, fps, images)


def cut_clips(videos: Iterable[Path], seconds: float, out_dir: Path, limit: Optional[int] = None) -> list[Path]:
    """Cut each video into ``seconds``-long MP4 clips in ``out_dir`` (a trailing part under half a clip is dropped)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clips: list[Path] = []
    for video in videos:
        with open_clip(video) as source:
            per_clip = max(1, round(seconds * source.fps))
            pending: list = []

            def flush(frames: list) -> None:
                clips.append(_write(out_dir / f"{Path(video).stem}-{len(clips):03d}.mp4", source.fps, frames))  # noqa: B023 - called within this iteration

            for frame in source.frames():
                pending.append(frame.image)
                if len(pending) == per_clip:
                    flush(pending)
                    pending = []
                    if limit and len(clips) >= limit:
                        return clips
            if len(pending) >= per_clip / 2:
                flush(pending)
        if limit and len(clips) >= limit:
            break
    return clips
