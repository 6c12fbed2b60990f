"""Fixtures for the detection tests: real frames, small clips made from real footage."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecloud.config import DetectorSettings

CLIP_ID = "20261124T113500123Z_pi-01_3fa9c2d1"


def read_frames(path: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def write_avi(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for image in frames:
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="session")
def real_frames(vtest_mp4) -> list[np.ndarray]:
    """The first 30 frames of the real footage (768x576, pedestrians)."""
    frames = read_frames(vtest_mp4, 30)
    assert len(frames) == 30
    return frames


@pytest.fixture
def detector_settings() -> DetectorSettings:
    """Default settings with HOG, the people detector these pipeline tests were written against."""
    return DetectorSettings(name="hog")


@pytest.fixture
def still_clip(tmp_path, real_frames) -> Path:
    """4 s of one real frame repeated: nothing moves."""
    return write_avi(tmp_path / "still.avi", [real_frames[0]] * 40)


def photo(name: str) -> np.ndarray:
    """A real photo scikit-image ships (astronaut, camera, coffee, chelsea, rocket...), as a BGR frame."""
    import skimage.data

    image = getattr(skimage.data, name)()
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """Eileen Collins in her flight suit (512x512): one face, one person."""
    return photo("astronaut")
