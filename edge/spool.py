"""The durable outbox: a clip is here, on disk, before anything else happens to it.

One directory per clip, ``<root>/<clip_id>/`` holding the clip and an fsync'd
``manifest.json`` (metadata for the controller, the Pi's result if any, and
the stage: ``new`` = not yet placed, ``ready`` = to upload). An entry is built
under ``.tmp/`` and renamed into place, so after a crash an entry is either
whole or absent; it is removed only after the controller answered 201.

Space: over ``max_bytes``, or when the disk is full, the oldest entries
without a result go first (a clip the Pi already analysed keeps its value),
after any the controller refused (``.rejected``, which count against the cap),
each with a log line that says what was dropped and why.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Optional

from edgecloud.jobs import parse_clip_id

from .spool_entry import Entry, _fsync_dir, _write_json

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


class SpoolFull(OSError):
    """The clip could not be written even after making room."""


class Spool:
    """Durable, size-capped outbox of clips (see the module docstring)."""

    def __init__(self, root: Path | str, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
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
            log.warning("spool: %s was being recorded when the agent stopped; it is incomplete and dropped",
                        partial.name)
            partial.unlink(missing_ok=True)

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
    def put(self, clip_file: Path, metadata: dict, *, stage: str = "ready", result: Optional[dict] = None,
            **info: Any) -> Entry:
        """Move ``clip_file`` into a new entry (atomically) and return it."""
        clip_id = metadata["clip_id"]
        parse_clip_id(clip_id)  # the id names a directory: check it
        clip_file = Path(clip_file)
        try:
            return self._put(clip_file, metadata, stage, result, info)
        except OSError as err:
            if err.errno not in DISK_FULL:
                raise
            log.error("spool: disk full while writing clip %s; dropping the oldest clip-only entries to make room",
                      clip_id)
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
                manifest = {"metadata": metadata, "clip_file": target.name, "stage": stage, "result": result,
                            **info}
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
            manifest = {**entry.manifest, **changes}
            _write_json(entry.path / MANIFEST, manifest)
            entry.manifest = manifest
        return entry

    def replace_clip(self, entry: Entry, new_file: Path, **changes: Any) -> Entry:
        """Swap the entry's clip for ``new_file`` (e.g. a downscaled copy), atomically."""
        with self._lock:
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
        log.error("spool: controller refused clip %s for good (%s); moved to %s", entry.clip_id, why,
                  self.rejected_dir)

    def make_room(self, reason: str) -> list[str]:
        """Drop the oldest entry that may go (see the module docstring), e.g. when the disk is full."""
        return self._drop_oldest(needed=1, reason=reason)

    def enforce_cap(self) -> list[str]:
        """Drop entries until under ``max_bytes``; returns the dropped clip ids."""
        return self._drop_oldest(needed=0, reason=self._over_cap)

    @property
    def _over_cap(self) -> str:
        return f"spool over its cap of {self.max_bytes / 1e6:.0f} MB"

    def _rejected_entries(self) -> list[Entry]:
        # Only their id (the directory's name) and size matter here, readable manifest or not.
        return [Entry(d, {"metadata": {"clip_id": d.name}}) for d in sorted(self.rejected_dir.iterdir()) if d.is_dir()]

    def _drop_oldest(self, needed: int, reason: str, keep: Optional[str] = None) -> list[str]:
        dropped = []
        with self._lock:
            entries = self.entries()
            # Clips the controller refused for good take room too, and go before any it may still take.
            rejected = self._rejected_entries()
            sizes = {e.clip_id: e.size for e in entries + rejected}
            total = sum(sizes.values())
            # Then clip-only entries, oldest first; entries with the Pi's result last.
            order = rejected + [e for e in entries if not e.result] + [e for e in entries if e.result]
            order = [e for e in order if e.clip_id != keep or e.path.parent == self.rejected_dir]
            freed = 0
            for entry in order:
                if total <= self.max_bytes and freed >= needed:
                    break
                refused = entry.path.parent == self.rejected_dir
                kind = "refused by the controller" if refused else "with its result" if entry.result else "clip only"
                log.error("spool: %s: dropped clip %s (%s, %.1f MB)%s", reason, entry.clip_id, kind,
                          sizes[entry.clip_id] / 1e6, "" if refused else " - it will not reach the controller")
                shutil.rmtree(entry.path, ignore_errors=True) if refused else self.remove(entry)
                total -= sizes[entry.clip_id]
                freed += sizes[entry.clip_id]
                dropped.append(entry.clip_id)
        return dropped

    def __repr__(self) -> str:
        return f"<Spool {self.root} entries={len(self)} cap={self.max_bytes / 1e6:.0f}MB>"
