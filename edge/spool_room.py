"""Making room in the spool: what goes, in what order, and how a video goes without its record.

Over the cap, or on a full disk: entries the controller refused (``.rejected``)
go first, whole; then the oldest clips lose their video, never their record (see
``edgecloud.edge.spool``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from typing import Optional

from edgecloud.clock import utcnow

from .spool_entry import Entry, _fsync_dir

log = logging.getLogger(__name__)

DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


class MakesRoom:
    """Mixed into ``Spool``: needs its ``_lock``, ``entries``, ``update``, ``rejected_dir``, ``max_bytes``,
    ``on_video_dropped`` and the counters ``videos_dropped`` and ``bytes_dropped``."""

    def make_room(self, reason: str) -> list[str]:
        """Drop the oldest video (or a refused entry) that may go, e.g. when the disk is full; returns clip ids."""
        return self._drop_oldest(needed=1, reason=reason)

    def enforce_cap(self) -> list[str]:
        """Drop refused entries, then the oldest videos, until under ``max_bytes``; returns their clip ids."""
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
            # Clips the controller refused for good take room too, and go (whole) before any video it may
            # still take; then the oldest videos, never their records.
            rejected = self._rejected_entries()
            sizes = {e.clip_id: e.size for e in entries + rejected}
            total = sum(sizes.values())
            order = rejected + [e for e in entries if not e.video_dropped and e.clip_id != keep]
            freed = 0
            for entry in order:
                if total <= self.max_bytes and freed >= needed:
                    break
                try:
                    if entry.path.parent == self.rejected_dir:
                        log.error(
                            "spool: %s: dropped clip %s (refused by the controller, %.1f MB)",
                            reason,
                            entry.clip_id,
                            sizes[entry.clip_id] / 1e6,
                        )
                        shutil.rmtree(entry.path, ignore_errors=True)
                        gone = sizes[entry.clip_id]
                    else:
                        gone = self._drop_video(entry, reason)
                except OSError:  # the clip just kept stays kept; the next put or cap check tries again
                    log.exception("spool: could not drop clip %s's video to make room", entry.clip_id)
                    break
                total -= gone
                freed += gone
                dropped.append(entry.clip_id)
        return dropped

    def _drop_video(self, entry: Entry, reason: str) -> int:
        """Delete the entry's video, keep its record; returns the bytes freed."""
        clip = entry.clip_path
        nbytes = clip.stat().st_size if clip.exists() else entry.manifest.get("dropped_bytes", 0)
        record = {
            "video_dropped": True,
            "dropped_bytes": nbytes,
            "dropped_at": entry.manifest.get("dropped_at") or utcnow().isoformat(),
        }
        with self._lock:
            try:
                self.update(entry, **record)  # said before the video goes
            except OSError as err:
                if err.errno not in DISK_FULL:
                    raise
                os.truncate(clip, 0)  # no room even for the manifest: free the bytes first (restart finishes it)
                self.update(entry, **record)
            clip.unlink(missing_ok=True)
            _fsync_dir(entry.path)
            self.videos_dropped += 1
            self.bytes_dropped += nbytes
        log.warning(
            "spool: %s: dropped the video of clip %s (%d bytes freed); its record%s stays and is sent",
            reason,
            entry.clip_id,
            nbytes,
            " with the Pi's result" if entry.result else "",
        )
        if self.on_video_dropped is not None:
            try:
                self.on_video_dropped(entry, nbytes)
            except Exception:  # noqa: BLE001 - counting must not undo the drop
                log.exception("spool: after dropping the video of %s", entry.clip_id)
        return nbytes
