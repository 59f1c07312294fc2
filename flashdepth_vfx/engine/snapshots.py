"""Temporal-state snapshots beside the output: resume and random access start from the nearest one."""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..model import StreamState

_NAME = re.compile(r"^state\.(-?\d+)\.safetensors$")


class SnapshotStore:
    """Snapshots of one render setup in ``<output folder>/.flashdepth/<state key>/state.<frame>.safetensors``.

    The snapshot named after frame F holds the state *after* frame F was processed.
    """

    def __init__(self, output_dir: Path, key: str) -> None:
        self.folder = output_dir / ".flashdepth" / key

    def frames(self) -> list[int]:
        """Frames that have a snapshot, ascending."""
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := _NAME.match(p.name)))

    def nearest_before(self, frame: int) -> int | None:
        """The latest snapshot frame strictly before ``frame``."""
        earlier = [f for f in self.frames() if f < frame]
        return earlier[-1] if earlier else None

    def load(self, frame: int) -> StreamState:
        """The state after ``frame``."""
        return StreamState.load(self.folder / f"state.{frame}.safetensors")

    def save(self, frame: int, state: StreamState) -> None:
        """Store atomically (a half-written snapshot is never picked up)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".state.{frame}.{os.getpid()}.tmp"
        state.save(tmp)
        os.replace(tmp, self.folder / f"state.{frame}.safetensors")
