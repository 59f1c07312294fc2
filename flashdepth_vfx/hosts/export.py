"""Caching the export of a host's upstream network (anything that is not a plain file reader).

The engine reads files, so a node fed by processing (a Grade, a COP network) first writes its input to EXR.
That export is keyed by a content hash of the upstream network (the host describes its nodes, settings and
the files they read, see :func:`content_key`): the same network is exported once, and each render writes only
the frames asked that are not exported yet (:meth:`ExportCache.missing`). A frame counts as exported once the
host has written it completely and called :meth:`ExportCache.mark_done`.

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from typing import Iterable, List

from .paths import frame_file

SOURCE_FOLDER = "source"
DONE_FILE = "exported.json"
_DONE_LOCK = threading.Lock()


def content_key(parts: Iterable[str]) -> str:
    """16 hex digits hashing a description of an upstream network (one string per node, in a stable order)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:16]


def file_stamp(path: str) -> str:
    """What identifies a file's content cheaply: size and modification time (``missing`` when absent)."""
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


@dataclass(frozen=True)
class ExportCache:
    """The exported frames of one upstream network: ``<output_dir>/source/<key>/<name>.%04d.exr``."""

    key: str
    pattern: str

    @classmethod
    def for_network(cls, output_dir: str, name: str, key: str) -> ExportCache:
        return cls(key, os.path.join(output_dir, SOURCE_FOLDER, key, f"{name}.%04d.exr"))

    @property
    def folder(self) -> str:
        return os.path.dirname(self.pattern)

    def _done_path(self) -> str:
        return os.path.join(self.folder, DONE_FILE)

    def done(self) -> List[int]:
        """Frames exported completely (and still on disk), ascending."""
        try:
            with open(self._done_path(), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return []
        frames = data.get("frames") if isinstance(data, dict) else None
        if not isinstance(frames, list):
            return []
        return sorted(f for f in frames if type(f) is int and os.path.isfile(frame_file(self.pattern, f)))

    def missing(self, frames: Iterable[int]) -> List[int]:
        """Those of ``frames`` that still need exporting, ascending."""
        done = set(self.done())
        return sorted(set(frames) - done)

    def mark_done(self, frames: Iterable[int]) -> None:
        """Record ``frames`` as completely written (the host calls this after each written frame or batch)."""
        with _DONE_LOCK:
            done = set(self.done()) | set(frames)
            os.makedirs(self.folder, exist_ok=True)
            path = self._done_path()
            temporary = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump({"key": self.key, "frames": sorted(done)}, handle)
            os.replace(temporary, path)
