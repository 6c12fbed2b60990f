"""The Raspberry Pi camera through picamera2 (imported only when this camera opens).

The encoder runs all the time into ``CircularOutput2``; a clip is a
``PyavOutput`` opened on it, so the MP4 starts with the buffered pre-roll and
keeps the camera's own timestamps.
"""

from __future__ import annotations

import math
from pathlib import Path

from . import Camera, CameraError


class Picamera2Camera(Camera):
    """picamera2 + H.264 into a circular buffer; clips are MP4 files written by PyAV."""

    def __init__(
        self,
        *,
        resolution=(1280, 720),
        fps: float = 10,
        bitrate: int = 4_000_000,
        preroll_seconds: float = 1.0,
        camera_num: int = 0,
    ):
        super().__init__(fps=fps, preroll_seconds=preroll_seconds)
        self.resolution = tuple(resolution)
        self.bitrate = int(bitrate)
        self.camera_num = camera_num
        # A key frame every half second: the buffer must start at one, so it holds the
        # pre-roll plus one key-frame interval, and a clip still has its full pre-roll.
        self.iperiod = max(1, math.ceil(self.fps / 2))
        self.buffer_ms = int(round((self.preroll_seconds + self.iperiod / self.fps) * 1000))
        # CircularOutput2 writes each frame one buffer-length after it arrives; the
        # recorder waits this long before ending a clip so the clip's tail is not cut.
        self.close_lag_s = self.buffer_ms / 1000
        self._picam2 = self._encoder = self._circular = self._output_class = None
        self._clip_started_at = None

    def _open(self) -> None:
        try:
            from picamera2 import Picamera2
            from picamera2.encoders import H264Encoder
            from picamera2.outputs import CircularOutput2, PyavOutput
        except ImportError as err:
            raise CameraError(f"picamera2 is not installed (apt install python3-picamera2): {err}") from None
        self._output_class = PyavOutput
        self._picam2 = Picamera2(self.camera_num)
        config = self._picam2.create_video_configuration(
            main={"size": self.resolution}, controls={"FrameRate": self.fps}
        )
        self._picam2.configure(config)
        # repeat=True repeats the stream headers before every key frame, so a clip cut
        # from the middle of the stream decodes on its own.
        self._encoder = H264Encoder(bitrate=self.bitrate, repeat=True, iperiod=self.iperiod)
        self._circular = CircularOutput2(buffer_duration_ms=self.buffer_ms)
        self._picam2.start_recording(self._encoder, self._circular)

    def still(self):
        # The video configuration's main stream is XBGR8888: pixels read [R, G, B, 255]; OpenCV wants B, G, R.
        return self._picam2.capture_array("main")[..., 2::-1]

    def _start_clip(self, path: Path) -> None:
        self._clip_started_at = self.now()
        self._circular.open_output(self._output_class(str(path)))

    def _finish_clip(self) -> dict:
        self._circular.close_output()
        end = self.now() - self.close_lag_s
        start = self._clip_started_at - self.preroll_seconds
        return {"start_time": start, "end_time": end}

    def _close(self) -> None:
        try:
            self._picam2.stop_recording()
        finally:
            self._picam2.close()

    def _describe(self) -> str:
        w, h = self.resolution
        return f"{w}x{h} {super()._describe()} bitrate={self.bitrate}"
