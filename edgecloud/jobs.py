"""Moved to :mod:`edgecloud.protocol` (and ``edgecloud.clock``, ``edgecloud.shown``); names kept here while importers move."""
from __future__ import annotations

from .clock import utcnow  # noqa: F401
from .protocol.containers import CLIP_TYPES, CONTAINER_CHECKS, EXTENSIONS, SNIFF_BYTES, container_mismatch  # noqa: F401
from .protocol.ids import (CLIP_ID_RE, DEVICE_RE, BadClipId, ClipId, check_device_id, clip_id_in,  # noqa: F401
                           new_clip_id, parse_clip_id)
from .protocol.keys import clip_key, frame_id_of, frame_key, result_key, snapshot_key  # noqa: F401
from .protocol.labels import steady_count, summarise  # noqa: F401
from .protocol.messages import (SCHEMA_VERSION, Completion, Detection, Finite, FrameAnswer, Job,  # noqa: F401
                                LabelSummary, Message, Result)
from .shown import shown  # noqa: F401
