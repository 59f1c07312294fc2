"""The single-folder render record of the first host adapters: the last render's fingerprint, frame range and
counts, kept on the node, and the state that record is in against the node's settings.

Kept for the Houdini and Resolve adapters until they move to :mod:`flashdepth_vfx.hosts.versions` (versioned
folders and a status read from disk), which the Nuke node uses.

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import dataclasses
import enum
import json
import os
from dataclasses import dataclass
from typing import Optional

from flashdepth_vfx.bridge import RenderJob

from .settings import RENDER_BUTTON


@dataclass(frozen=True)
class CachedRender:
    """What a node remembers of its last render (JSON in a hidden knob or the node's user data)."""

    fingerprint: str
    output: str      # printf pattern of the depth frames
    first: int
    last: int
    written: int
    total: int

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Optional[CachedRender]:
        """The stored record, or None when there is none or it is unreadable (an old or hand-edited scene)."""
        try:
            data = json.loads(text) if text else None
            cached = cls(**data) if isinstance(data, dict) else None
        except (ValueError, TypeError):
            return None
        if cached is None:
            return None
        numbers = (cached.first, cached.last, cached.written, cached.total)
        texts = (cached.fingerprint, cached.output)
        if not all(type(n) is int for n in numbers) or not all(isinstance(t, str) for t in texts):
            return None
        return cached

    def frame_file(self, frame: int) -> str:
        return self.output % frame


class CacheState(enum.Enum):
    """How a node's cached result relates to its current settings."""

    NONE = "none"          # never rendered
    FRESH = "fresh"        # rendered with these settings, every frame
    PARTIAL = "partial"    # rendered with these settings, but cancelled part way
    STALE = "stale"        # settings changed since
    MISSING = "missing"    # the files are gone


def cache_state(cached: Optional[CachedRender], job: RenderJob) -> CacheState:
    """Compare the stored render with the job the node's settings make now."""
    if cached is None:
        return CacheState.NONE
    if not os.path.isfile(cached.frame_file(cached.first)):
        return CacheState.MISSING
    if cached.fingerprint != job.fingerprint():
        return CacheState.STALE
    if cached.written < cached.total:
        return CacheState.PARTIAL
    return CacheState.FRESH


def status_line(state: CacheState, cached: Optional[CachedRender]) -> str:
    """The one-line status a node shows for ``state``."""
    if state is CacheState.NONE or cached is None:
        return f"Not rendered yet: press {RENDER_BUTTON}"
    if state is CacheState.MISSING:
        return f"Depth files missing ({cached.frame_file(cached.first)}): press {RENDER_BUTTON}"
    if state is CacheState.STALE:
        return f"Stale: settings changed since the last render; press {RENDER_BUTTON}"
    if state is CacheState.PARTIAL:
        return f"Partial: {cached.written} of {cached.total} frames rendered; press {RENDER_BUTTON} to finish"
    return f"Up to date: {cached.written} frames ({cached.first}-{cached.last}) in {cached.output}"
