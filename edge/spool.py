"""The durable outbox: a clip is here, on disk, before anything else happens to it.

One directory per clip, ``<root>/<clip_id>/`` holding the clip and an fsync'd
``manifest.json`` (metadata for the controller, the Pi's result if any, and
the stage: ``new`` = not yet placed, ``ready`` = to upload). An entry is built
under ``.tmp/`` and renamed into place, so after a crash an entry is either
whole or absent; it is removed only after the controller answered 201.

Space: over ``max_bytes``, or when the disk is full, entries the controller
refused (``.rejected``, which count against the cap) go first, whole; then the
oldest clips lose their video but never their record: the manifest says
``video_dropped`` (and the bytes freed) before the video goes, and the record,
with the Pi's result and snapshot if it has them, is uploaded as any entry is,
so the cloud still learns the event happened. Each drop is a warning naming the
clip and the bytes freed, and is counted (``videos_dropped``, ``bytes_dropped``,
and ``on_video_dropped`` for the agent's stats).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from edgecloud.protocol.ids import parse_clip_id

from .spool_entry import Entry, _fsync_dir, _write_json
from .spool_room import DISK_FULL, MakesRoom

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class SpoolFull(OSError):
    """The clip could not be written even after making room."""


class Spool(MakesRoom):
    """Durable, size-capped outbox of clips (see the module docstring)."""

    def __init__(
        self, root: Path | str, max_bytes: int, *, on_video_dropped: Optional[Callable[[Entry, int], None]] = None
    ):
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.on_video_dropped = on_video_dropped  # told (entry, bytes freed) of each video dropped
        self.videos_dropped = 0  # videos this Spool dropped (their records stay), and the bytes that freed
        self.bytes_dropped = 0
        self.recording_dir = self.root / ".recording"
        self._tmp = self.root / ".tmp"
        self.rejected_dir = self.root / ".rejected"
        self._lock = threading.RLock()
        for d in (self.root, self.recording_dir, self._tmp, self.rejected_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._recover()

    def _recover(self) -> None:
        # A staged entry with its manifest holds a finished clip (in it, or still in .recording):
        # finish the put a kill cut short. Anything else there (removals, half-made dirs) goes.
        for leftover in self._tmp.iterdir():
            if leftover.is_dir() and not leftover.name.endswith(".gone") and self._finish_staged(leftover):
                continue
            shutil.rmtree(leftover, ignore_errors=True)
        for partial in self.recording_dir.iterdir():
            log.warning(
                "spool: %s was being recorded when the agent stopped; it is incomplete and dropped", partial.name
            )
            partial.unlink(missing_ok=True)
        for entry in self.entries():
            # A drop a stop cut short: flagged with the video still there, or emptied on a full disk.
            emptied = entry.clip_path.is_file() and entry.clip_path.stat().st_size == 0
            if (entry.video_dropped and entry.clip_path.exists()) or emptied:
                self._drop_video(entry, "finishing a drop the agent's stop cut short")

    def _finish_staged(self, staging: Path) -> bool:
        try:
            manifest = json.loads((staging / MANIFEST).read_text())
            clip = staging / manifest["clip_file"]
            if not clip.exists():
                source = self.recording_dir / f"{staging.name}{clip.suffix}"
                os.replace(source, clip)  # FileNotFoundError: the clip is gone, nothing to finish
                with open(clip, "rb+") as fh:
                    os.fsync(fh.fileno())
                _fsync_dir(staging)
            os.rename(staging, self.root / staging.name)  # an entry of that id already there: OSError
            _fsync_dir(self.root)
        except (OSError, ValueError, KeyError, TypeError):
            return False
        log.warning("spool: recovered clip %s, whose spooling the agent's stop had cut short", staging.name)
        return True

    # --- adding and changing -------------------------------------------------
    def put(
        self, clip_file: Path, metadata: dict, *, stage: str = "ready", result: Optional[dict] = None, **info: Any
    ) -> Entry:
        """Move ``clip_file`` into a new entry (atomically) and return it."""
        clip_id = metadata["clip_id"]
        parse_clip_id(clip_id)  # the id names a directory: check it
        clip_file = Path(clip_file)
        try:
            return self._put(clip_file, metadata, stage, result, info)
        except OSError as err:
            if err.errno not in DISK_FULL:
                raise
            log.error(
                "spool: disk full while writing clip %s; dropping the oldest videos (their records stay) to make room",
                clip_id,
            )
            self._drop_oldest(needed=max(clip_file.stat().st_size if clip_file.exists() else 0, 1), reason="disk full")
            try:
                return self._put(clip_file, metadata, stage, result, info)
            except OSError as again:
                if again.errno in DISK_FULL:
                    log.error("spool: disk still full: clip %s could not be kept and is lost", clip_id)
                    raise SpoolFull(again.errno, f"disk full: clip {clip_id} not spooled") from again
                raise

    def _put(self, clip_file: Path, metadata: dict, stage: str, result: Optional[dict], info: dict) -> Entry:
        clip_id = metadata["clip_id"]
        with self._lock:
            staging = self._tmp / clip_id
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            target = staging / f"clip{clip_file.suffix}"
            try:
                # The manifest first: after a kill, a staged manifest means a finished clip that
                # restart completes (see _recover), whether or not the clip was moved in yet.
                manifest = {"metadata": metadata, "clip_file": target.name, "stage": stage, "result": result, **info}
                _write_json(staging / MANIFEST, manifest)
                try:
                    os.replace(clip_file, target)  # same file system: a rename
                except OSError as err:
                    if err.errno != errno.EXDEV:
                        raise
                    partial = target.with_name(target.name + ".part")  # never a half copy under the real name
                    shutil.copyfile(clip_file, partial)
                    os.replace(partial, target)
                with open(target, "rb+") as fh:
                    os.fsync(fh.fileno())
                _fsync_dir(staging)
                final = self.root / clip_id
                os.rename(staging, final)
                _fsync_dir(self.root)
            except BaseException:
                # Give the clip back to the caller before the half-built entry goes.
                if target.exists() and not clip_file.exists():
                    os.replace(target, clip_file)
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if clip_file.exists():
                clip_file.unlink()
            entry = Entry(final, manifest)
            self._drop_oldest(needed=0, reason=self._over_cap, keep=clip_id)  # never the clip just kept
        return entry

    def update(self, entry: Entry, **changes: Any) -> Entry:
        """Change manifest fields (e.g. attach a result, set the stage) atomically."""
        with self._lock:
            manifest = {**self._on_disk(entry), **changes}
            _write_json(entry.path / MANIFEST, manifest)
            entry.manifest = manifest
        return entry

    def _on_disk(self, entry: Entry) -> dict:
        # Another thread may have changed the manifest since this Entry was read (a video dropped):
        # changes apply to what is on disk, never undo it.
        try:
            return json.loads((entry.path / MANIFEST).read_text())
        except ValueError:
            return entry.manifest

    def refresh(self, entry: Entry) -> Optional[Entry]:
        """The entry as it is on disk now; None once it has left the spool."""
        with self._lock:
            try:
                return Entry(entry.path, json.loads((entry.path / MANIFEST).read_text()))
            except (OSError, ValueError):
                return None

    def replace_clip(self, entry: Entry, new_file: Path, **changes: Any) -> Entry:
        """Swap the entry's clip for ``new_file`` (e.g. a downscaled copy), atomically."""
        with self._lock:
            if self._on_disk(entry).get("video_dropped"):  # dropped while it was being made: it stays dropped
                Path(new_file).unlink(missing_ok=True)
                return self.refresh(entry) or entry
            target = entry.path / f"clip-sent{Path(new_file).suffix}"
            os.replace(new_file, target)
            with open(target, "rb+") as fh:  # on disk before the manifest names it (the old clip goes)
                os.fsync(fh.fileno())
            old = entry.clip_path
            self.update(entry, clip_file=target.name, **changes)
            if old != target:
                old.unlink(missing_ok=True)
        return entry

    # --- reading -----------------------------------------------------------
    def entries(self, stage: Optional[str] = None) -> list[Entry]:
        """Entries oldest first (clip ids sort by time)."""
        found = []
        with self._lock:
            for d in sorted(self.root.iterdir()):
                if d.name.startswith(".") or not (d / MANIFEST).is_file():
                    continue
                try:
                    entry = Entry(d, json.loads((d / MANIFEST).read_text()))
                except (OSError, ValueError):
                    log.error("spool: unreadable manifest in %s; entry skipped", d)
                    continue
                if stage is None or entry.stage == stage:
                    found.append(entry)
        return found

    def get(self, clip_id: str) -> Optional[Entry]:
        return next((e for e in self.entries() if e.clip_id == clip_id), None)

    def __len__(self) -> int:
        return len(self.entries())

    def size_bytes(self) -> int:
        return sum(e.size for e in self.entries())

    # --- leaving -----------------------------------------------------------
    def remove(self, entry: Entry) -> None:
        """Delete an entry (after the controller has it). Missing entries are fine."""
        with self._lock:
            if not entry.path.exists():
                return
            trash = self._tmp / f"{entry.path.name}.gone"
            os.rename(entry.path, trash)  # disappears atomically, then is deleted
            _fsync_dir(self.root)
            shutil.rmtree(trash, ignore_errors=True)

    def reject(self, entry: Entry, why: str) -> None:
        """Set aside an entry the controller refused for good (kept for a person to look at)."""
        with self._lock:
            if entry.path.exists():
                self.update(entry, rejected=why)
                os.replace(entry.path, self.rejected_dir / entry.path.name)
        log.error("spool: controller refused clip %s for good (%s); moved to %s", entry.clip_id, why, self.rejected_dir)

    def __repr__(self) -> str:
        return f"<Spool {self.root} entries={len(self)} cap={self.max_bytes / 1e6:.0f}MB>"
