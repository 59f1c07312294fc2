"""Removing old depth versions (:mod:`.versions`) that nobody uses: a node's *Delete old versions* button and
``flashdepth-vfx hosts prune``.

Per output folder (one node's versions) the rule keeps:

* the newest ``keep`` complete versions (newest: the last render started into it), counting those kept
  for the reasons below;
* partial versions newer than the newest complete one (a render to finish);
* every version a node shows (its marker from :func:`.versions.mark_shown`, or the caller's ``protect``: a node
  passes the version it shows and the one its settings make);
* every version being rendered: a host's rendering marker whose process lives (or from another machine), an
  engine temporary of a live process, or any file written in the last :data:`ACTIVE_S` seconds (a farm render).

and removes the others, but only files the project wrote: the manifest and markers, depth EXRs whose header
carries ``flashdepth:`` metadata, the engine's snapshots and temporaries. Anything else stays, with the folders
that hold it, and is reported. Links are never followed.

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import json
import os
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from flashdepth_vfx.bridge.runner import process_alive

from .versions import KIND_KEY, MANIFEST, RENDERING, SHOWN_FOLDER, DepthVersion, describe_versions, shown_by

DEFAULT_KEEP = 2
"""Newest complete versions a node keeps, counting the ones in use (which are kept even beyond it)."""
ACTIVE_S = 600.0
"""A version with a file written this recently may be rendering (on a farm machine: no marker here)."""
SNAPSHOTS = ".flashdepth"
"""The engine's snapshot folder in an output folder (``.flashdepth/<state key>/state.<frame>.safetensors``)."""
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_MAX_HEADER = 1 << 20
_SNAPSHOT = re.compile(r"^state\.-?\d+\.safetensors$")
_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)(?:-[0-9a-f]+\.exr)?$|^.+\.json\.tmp-(\d+)$")


def exr_is_ours(path: str) -> bool:
    """Whether ``path`` is an OpenEXR file whose (first) header has a ``flashdepth:`` attribute, as every depth
    frame the engine writes has. Reads the header only."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_HEADER)
    except OSError:
        return False
    if not data.startswith(_EXR_MAGIC):
        return False
    position = 8  # magic number, version field
    while position < len(data):
        end = data.find(b"\0", position)
        if end < 0 or end == position:  # the end of the header (or a truncated one)
            return False
        name = data[position:end]
        if name.startswith(b"flashdepth:"):
            return True
        type_end = data.find(b"\0", end + 1)
        if type_end < 0 or type_end + 5 > len(data):
            return False
        (size,) = struct.unpack("<i", data[type_end + 1:type_end + 5])
        if size < 0:
            return False
        position = type_end + 5 + size
    return False


def _json_kind(path: str) -> Optional[str]:
    try:
        if os.path.getsize(path) > _MAX_HEADER:
            return None
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return str(data.get(KIND_KEY)) if isinstance(data, dict) and KIND_KEY in data else None


def _manifest_is_ours(path: str, key: str) -> bool:
    """A version manifest: marked as one, or (first release) the key, pattern and settings it always had."""
    kind = _json_kind(path)
    if kind is not None:
        return kind == "version"
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("key") == key and isinstance(data.get("settings"), dict) \
        and isinstance(data.get("pattern"), str)


def _snapshot_is_ours(path: str) -> bool:
    """An engine snapshot: a safetensors file whose metadata has the engine's frame and checksum."""
    try:
        with open(path, "rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size)) if 0 < size <= _MAX_HEADER else {}
    except (OSError, ValueError, struct.error):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and "checksum" in meta and "frame" in meta


def _is_ours(folder: str, relative: str, key: str) -> bool:
    """Whether the file ``relative`` (to the version folder) is one the project writes there."""
    path = os.path.join(folder, relative)
    parts = relative.split(os.sep)
    name = parts[-1]
    if os.path.islink(path):  # someone put it there (the engine writes files), whatever it points at
        return False
    if relative == MANIFEST:
        return _manifest_is_ours(path, key)
    if relative == RENDERING:
        return _json_kind(path) == "rendering"
    if len(parts) == 2 and parts[0] == SHOWN_FOLDER:
        return _json_kind(path) == "shown"
    if _TEMPORARY.match(name):
        return True
    if len(parts) == 3 and parts[0] == SNAPSHOTS and _SNAPSHOT.match(name):
        return _snapshot_is_ours(path)
    return name.lower().endswith(".exr") and exr_is_ours(path)


def rendering_reason(folder: str, files: Iterable[Tuple[str, float]], now: Optional[float] = None) -> Optional[str]:
    """Why the version in ``folder`` may be rendering right now (None: it is not); ``files`` are its
    (relative path, modification time) pairs."""
    now = time.time() if now is None else now
    marker = os.path.join(folder, RENDERING)
    if os.path.isfile(marker):
        try:
            with open(marker, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            data = {}
        here = isinstance(data, dict) and data.get("host") == socket.gethostname()
        pid = data.get("pid") if isinstance(data, dict) else None
        if not here:
            return "a render on another machine is writing it"
        if isinstance(pid, int) and process_alive(pid):
            return f"a render (process {pid}) is writing it"
    for relative, modified in files:
        match = _TEMPORARY.match(os.path.basename(relative))
        pid = int(match.group(1) or match.group(2)) if match else 0
        if match and process_alive(pid):  # the engine's own rule: a temporary is stale once its process is gone
            return f"a render (process {pid}) is writing it"
        if now - modified < ACTIVE_S:
            return f"written in the last {int(ACTIVE_S // 60)} minutes (a render may still be running)"
    return None


def _walk(folder: str) -> List[Tuple[str, float, int]]:
    """(relative path, modification time, size) of every file under ``folder``; links (to files or folders)
    are listed as files and never followed."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        for name in list(names) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found.append((os.path.relpath(path, folder), info.st_mtime, info.st_size))
    return found


def _listing(files: Iterable[Tuple[str, float, int]]) -> Tuple[Tuple[str, float], ...]:
    return tuple(sorted((path, modified) for path, modified, _ in files))


@dataclass(frozen=True)
class Removal:
    """A version to remove: its files the project wrote (relative to its folder), their size, and the files
    that stay because the project did not write them."""

    version: DepthVersion
    files: Tuple[str, ...]
    size: int
    foreign: Tuple[str, ...] = ()
    listing: Tuple[Tuple[str, float], ...] = ()
    """Every file of the version folder and its modification time when planned: :func:`apply` leaves the version
    alone if that changed since (a render or a node started using it while the artist read the question)."""


@dataclass(frozen=True)
class Kept:
    """A version that stays, and why."""

    version: DepthVersion
    reason: str


@dataclass
class PrunePlan:
    """What pruning one or more output folders would do."""

    remove: List[Removal] = field(default_factory=list)
    keep: List[Kept] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(removal.size for removal in self.remove)

    def lines(self, dry_run: bool = False) -> List[str]:
        """One line per version, for a console or a node's status."""
        verb = "would remove" if dry_run else "remove"
        out = []
        for removal in self.remove:
            extra = f"; {len(removal.foreign)} files not written by flashdepth-vfx stay" if removal.foreign else ""
            out.append(f"{verb} {removal.version.folder} ({len(removal.files)} files, {size_text(removal.size)}){extra}")
        out += [f"keep {kept.version.folder}: {kept.reason}" for kept in self.keep]
        return out


def size_text(size: int) -> str:
    """Bytes for people: ``12.3 MB``."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def plan_folder(output_dir: str, keep: int = DEFAULT_KEEP, protect: Sequence[DepthVersion] = (),
                now: Optional[float] = None) -> PrunePlan:
    """The plan for one node's output folder (see the module docstring); ``protect``: versions a node uses."""
    plan = PrunePlan()
    protected = {os.path.normpath(version.folder) for version in protect}
    complete_kept = 0
    newest_complete: Optional[float] = None
    for info in describe_versions(output_dir):
        version = info.version
        files = _walk(version.folder)
        reason: Optional[str] = None
        if os.path.normpath(version.folder) in protected:
            reason = "the node shows it or its settings make it"
        elif shown_by(version.folder):
            reason = "shown by " + ", ".join(shown_by(version.folder))
        else:
            reason = rendering_reason(version.folder, [(path, modified) for path, modified, _ in files], now)
        if reason is None and info.complete and complete_kept < keep:
            reason = f"one of the {keep} newest complete versions"
        if reason is None and not info.complete and newest_complete is None:
            reason = "partial and newer than every complete version (finish it, or render again)"
        if info.complete and newest_complete is None:
            newest_complete = info.modified
        if info.complete and reason is not None:
            complete_kept += 1
        if reason is not None:
            plan.keep.append(Kept(version, reason))
            continue
        ours = tuple(path for path, _, _ in files if _is_ours(version.folder, path, version.key))
        foreign = tuple(path for path, _, _ in files if path not in ours)
        size = sum(size for path, _, size in files if path in ours)
        plan.remove.append(Removal(version, ours, size, foreign, _listing(files)))
    return plan


def output_folders(path: str) -> List[str]:
    """The node output folders under ``path`` (``path`` itself included): folders holding version folders.
    Version folders and links are not searched further."""
    found = []
    for root, dirs, _ in os.walk(path, followlinks=False):
        versions = [d for d in dirs if os.path.isfile(os.path.join(root, d, MANIFEST))]
        if versions:
            found.append(root)
        dirs[:] = sorted(d for d in dirs if d not in versions and not d.startswith(".")
                         and not os.path.islink(os.path.join(root, d)))
    return found


def plan(path: str, keep: int = DEFAULT_KEEP, now: Optional[float] = None) -> PrunePlan:
    """The plan for every node output folder under ``path`` (what ``hosts prune`` does)."""
    total = PrunePlan()
    for folder in output_folders(path):
        part = plan_folder(folder, keep, now=now)
        total.remove += part.remove
        total.keep += part.keep
    return total


CHANGED = "in use since the plan (a render or a node started on it): kept"
"""Why :func:`apply` keeps a planned version whose files changed after the plan."""


def apply(plan: PrunePlan) -> List[str]:
    """Remove the planned files, then the folders they leave empty; returns the paths that could not be
    removed (permissions, or changed since the plan). A version whose folder changed since the plan (a render
    started into it, a node marked it shown) is not touched: it moves from ``plan.remove`` to ``plan.keep``."""
    failed = []
    for removal in list(plan.remove):
        if _listing(_walk(removal.version.folder)) != removal.listing:
            plan.remove.remove(removal)
            plan.keep.append(Kept(removal.version, CHANGED))
            continue
        for relative in removal.files:
            path = os.path.join(removal.version.folder, relative)
            try:
                os.remove(path)
            except FileNotFoundError:
                continue
            except OSError:
                failed.append(path)
        for root, _, _ in sorted(os.walk(removal.version.folder, followlinks=False), key=lambda item: -len(item[0])):
            try:
                os.rmdir(root)  # only empty folders go: what the project did not write keeps its folder
            except OSError:
                continue
    return failed


def summary(plan: PrunePlan, failed: Sequence[str] = ()) -> str:
    """One line saying what a prune did (a node's status)."""
    if not plan.remove:
        return f"No old versions to delete ({len(plan.keep)} kept)"
    text = f"Deleted {len(plan.remove)} old versions ({size_text(plan.size)}); {len(plan.keep)} kept"
    foreign = sum(len(removal.foreign) for removal in plan.remove)
    if foreign:
        text += f"; {foreign} files not written by flashdepth-vfx left in place"
    if failed:
        text += f"; {len(failed)} files could not be removed (first: {failed[0]})"
    return text

