"""One spooled clip on disk (its directory and manifest), and the durable writes the spool makes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class Entry:
    """One spooled clip: its directory and manifest."""

    path: Path
    manifest: dict

    @property
    def clip_id(self) -> str:
        return self.manifest["metadata"]["clip_id"]

    @property
    def clip_path(self) -> Path:
        return self.path / self.manifest["clip_file"]

    @property
    def metadata(self) -> dict:
        return self.manifest["metadata"]

    @property
    def stage(self) -> str:
        return self.manifest.get("stage", "ready")

    @property
    def result(self) -> Optional[dict]:
        return self.manifest.get("result")

    @property
    def carries_result(self) -> bool:
        """Whether the upload carries the Pi's own result. An escalated clip keeps its Pi
        result for the record (``send_result: False``) but goes up for the cloud to analyse,
        unless its video was dropped: then the Pi's result is all the cloud can have."""
        return bool(self.result) and (self.manifest.get("send_result", True) or self.video_dropped)

    @property
    def video_dropped(self) -> bool:
        """The spool dropped this clip's video (over its cap): its record, and the Pi's result and
        snapshot if any, still go up (``metadata.video_dropped``)."""
        return bool(self.manifest.get("video_dropped"))

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
