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
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from flashdepth_vfx.sampling import hash_samples

from .paths import frame_file, sequence_frames, sequence_name

SOURCE_FOLDER = "source"
DONE_FILE = "exported.json"
_DONE_LOCK = threading.Lock()
SAMPLE_BYTES = 64 * 1024
SAMPLES = 4
""":func:`content_stamp` hashes ``SAMPLES`` evenly spaced blocks of ``SAMPLE_BYTES`` (the first and last included)."""
_STAMPS: Dict[str, Tuple[int, int, str]] = {}  # path -> (size, mtime_ns, stamp): a file read once per change
_FIRST: Dict[str, Tuple[int, int]] = {}  # sequence pattern -> (its folder's mtime_ns, first frame on disk)
RACY_NS = 3 * 10 ** 9
"""A folder changed this recently may change again within its time stamp's resolution: its listing is not kept."""


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


def sequence_stamp(pattern: str, frames: Sequence[int]) -> str:
    """What identifies the files a reader shows at ``frames`` cheaply, whatever the frame count: its file name,
    its folder's modification time (any file of it written through a rename, added or removed changes it) and
    the size and time of the first and last of those frames (a delivery over the files in place changes them).
    Three ``stat`` calls, none per frame."""
    name = sequence_name(pattern) or os.path.basename(pattern)
    try:
        folder = os.stat(os.path.dirname(pattern) or ".").st_mtime_ns
    except OSError:
        folder = 0
    parts = [name, str(folder)]
    for frame in sorted({min(frames), max(frames)}) if frames else []:
        try:
            stat = os.stat(frame_file(pattern, frame))
            parts.append(f"{frame}={stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append(f"{frame}=missing")
    return ":".join(parts)


def content_stamp(path: str) -> str:
    """What a file *is*, wherever it is mounted: its size and a hash of sampled blocks of its content (not its
    path, name or time stamps), or ``missing``. Read once per change of the file (one ``stat`` after that)."""
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    known = _STAMPS.get(path)
    if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
        return known[2]
    digest = hashlib.sha256(str(stat.st_size).encode("ascii"))
    try:
        with open(path, "rb") as handle:
            hash_samples(handle, stat.st_size, digest, SAMPLE_BYTES, SAMPLES)
    except OSError:
        return "unreadable"
    stamp = f"{stat.st_size}:{digest.hexdigest()[:16]}"
    _STAMPS[path] = (stat.st_size, stat.st_mtime_ns, stamp)
    return stamp


def _first_frame(pattern: str) -> Optional[int]:
    """The first frame of ``pattern`` on disk; the folder is listed again only when its time stamp changed."""
    try:
        mtime = os.stat(os.path.dirname(pattern) or ".").st_mtime_ns
    except OSError:
        return None
    known = _FIRST.get(pattern)
    if known is not None and known[0] == mtime:
        return known[1]
    frames = sequence_frames(pattern)
    if not frames:
        return None
    if time.time_ns() - mtime > RACY_NS:
        _FIRST[pattern] = (mtime, frames[0])
    return frames[0]


def plate_identity(plate: str) -> str:
    """What a plate is, wherever it is mounted (``/mnt/show``, ``/Volumes/show``, ``P:/``): a sequence's file name
    with its frame token as printf and the :func:`content_stamp` of its first frame on disk; a movie's or single
    file's name and stamp. Neither the folder nor the frame range counts (more frames delivered, or rendered,
    keep it). Costs two ``stat`` calls once the plate has been seen."""
    name = sequence_name(plate)
    if name is None:
        return f"{os.path.basename(plate)}:{content_stamp(plate)}"
    first = _first_frame(plate)
    return f"{name}:{first}:{content_stamp(frame_file(plate, first))}" if first is not None else f"{name}:missing"


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
