"""Removing old depth versions (:mod:`.versions`) that nobody uses: a node's *Delete old versions* button and
``flashdepth-vfx hosts prune``.

Per output folder (one node's versions) the rule keeps:

* the newest ``keep`` complete versions (newest: the last render started into it), counting those kept
  for the reasons below;
* partial versions newer than the newest complete one (a render to finish);
* every version a node shows (its marker from :func:`.versions.mark_shown`, or the caller's ``protect``: a node
  passes the version it shows and the one its settings make);
* every version with a read-only file of its own (locked frames);
* every version being rendered: a rendering marker (a host node's, or the engine's, written before it loads
  its model) whose process lives, or from another machine whose heartbeat is recent; an engine temporary of a
  live process; any file written in the last :data:`ACTIVE_S` seconds.

and removes the others, but only the files of the version: its manifest and markers, the frames of its own
pattern (and of the raw disparity a shot solve renders first) whose EXR header carries ``flashdepth:`` metadata,
the engine's snapshots, and the temporaries of these, each marked as the project's and a regular file (the
output guard's rule, :func:`flashdepth_vfx.plates.output_guard.replace_refusal`). Anything else (another name,
another subfolder, a link) stays, with the folders that hold it, and is reported. Links are never followed. Each
version is checked again right before its files go (:func:`apply`).

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
from typing import BinaryIO, Iterable, List, Optional, Pattern, Sequence, Tuple

from flashdepth_vfx.bridge.runner import process_alive
from flashdepth_vfx.plates.output_guard import replace_refusal, written_kind

from .versions import (
    MANIFEST, MARKER_STALE_S, PREVIEW_FOLDER, RENDERING_MARKER, SHOWN_FOLDER, DepthVersion, describe_versions,
    shown_by,
)

DEFAULT_KEEP = 2
"""Newest complete versions a node keeps, counting the ones in use (which are kept even beyond it)."""
ACTIVE_S = 600.0
"""A version with a file written this recently may be rendering (a render that has no marker)."""
SNAPSHOTS = ".flashdepth"
"""The engine's snapshot folder in an output folder (``.flashdepth/<state key>/state.<frame>.safetensors``)."""
RAW_SUFFIX = "_raw"
"""Before the frame number of the raw disparity a shot solve renders first (as ``solve.after_render.raw_pattern``
names it): ``shot_depth_raw.1001.exr`` beside ``shot_depth.1001.exr``."""
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_CHUNK = 4096
"""Bytes read at a time from an EXR header: a depth frame's ``flashdepth:`` attributes lie in the first few KiB."""
_MAX_NAME = 256
"""Longest attribute name or type an EXR header may hold (255 characters and its NUL)."""
_MAX_SNAPSHOT_HEADER = 1 << 20
_SNAPSHOT = re.compile(r"^state\.-?\d+\.safetensors$")
_SNAPSHOT_TEMPORARY = re.compile(r"^\.state\.-?\d+\.tmp-\d+$")
_FRAME_TOKEN = re.compile(r"([._-]?)%0?\d*d")
_FRAME_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-\d+-[0-9a-f]+\.exr$")
_JSON_TEMPORARY = re.compile(r"^(?P<name>.+\.json)\.tmp-\d+$")
_WRITE_TEST = re.compile(r"^\.flashdepth-write-test-\d+$")
_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)(?:-[0-9a-f]+\.exr)?$|^.+\.json\.tmp-(\d+)$")
"""Any temporary the project writes, with its process id (a live one means a render is writing the folder)."""


class _ExrHeader:
    """Reads an EXR header in :data:`_CHUNK` pieces, skipping attribute values without reading them."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.data = b""
        self.base = 0  # file offset of data[0]

    def _more(self) -> bool:
        chunk = self.handle.read(_CHUNK)
        self.data += chunk
        return bool(chunk)

    def bytes_at(self, offset: int, size: int) -> Optional[bytes]:
        while offset + size > self.base + len(self.data):
            if not self._more():
                return None
        return self.data[offset - self.base:offset - self.base + size]

    def string_at(self, offset: int) -> Optional[bytes]:
        """The NUL-terminated string at ``offset`` (None: too long, or the file ends)."""
        while True:
            end = self.data.find(b"\0", offset - self.base)
            if 0 <= end <= offset - self.base + _MAX_NAME:
                return self.data[offset - self.base:end]
            if len(self.data) - (offset - self.base) > _MAX_NAME or not self._more():
                return None

    def skip_to(self, offset: int) -> None:
        if offset > self.base + len(self.data):  # a value beyond what was read: seek over it
            self.handle.seek(offset)
            self.data, self.base = b"", offset


def exr_is_ours(path: str) -> bool:
    """Whether ``path`` is an OpenEXR file whose (first) header has a ``flashdepth:`` attribute, as every depth
    frame the engine writes has. Reads the header's names only, a few KiB (values are skipped, not read)."""
    try:
        with open(path, "rb", buffering=0) as handle:
            header = _ExrHeader(handle)
            if header.bytes_at(0, 4) != _EXR_MAGIC:
                return False
            position = 8  # magic number, version field
            while True:
                name = header.string_at(position)
                if not name:  # the end of the header (or a damaged one)
                    return False
                if name.startswith(b"flashdepth:"):
                    return True
                kind = header.string_at(position + len(name) + 1)
                size_at = position + len(name) + len(kind or b"") + 2
                size = header.bytes_at(size_at, 4) if kind is not None else None
                if size is None or struct.unpack("<i", size)[0] < 0:
                    return False
                position = size_at + 4 + struct.unpack("<i", size)[0]
                header.skip_to(position)
    except (OSError, ValueError):
        return False


def _manifest_is_ours(path: str, key: str) -> bool:
    """A version manifest: marked as one, or (first release) the key, pattern and settings it always had."""
    kind = written_kind(path)
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
            header = json.loads(handle.read(size)) if 0 < size <= _MAX_SNAPSHOT_HEADER else {}
    except (OSError, ValueError, struct.error):
        return False
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return isinstance(meta, dict) and "checksum" in meta and "frame" in meta


def frame_names(pattern: str) -> Pattern[str]:
    """The file names of a version's own frames: its pattern's (``shot_depth.%04d.exr``: any frame number and
    padding) and the raw disparity a shot solve renders first (``shot_depth_raw.1001.exr``)."""
    name = os.path.basename(pattern)
    match = _FRAME_TOKEN.search(name)
    if match is None:
        return re.compile(re.escape(name) + r"\Z")
    head, separator, tail = name[:match.start()], match.group(1), name[match.end():]
    return re.compile(f"{re.escape(head)}(?:{RAW_SUFFIX})?{re.escape(separator)}-?\\d+{re.escape(tail)}\\Z")


def _is_ours(version: DepthVersion, relative: str, frames: Pattern[str]) -> bool:
    """Whether ``relative`` (to the version folder) is a file of the version, which pruning may delete: its
    manifest, its rendering and shown markers, its own frames (``frames``: :func:`frame_names`) carrying the
    engine's header, its snapshots, and the temporaries of these. Anything else (another name, another
    subfolder, a link, a file without the project's mark) is not."""
    path = os.path.join(version.folder, relative)
    parts = relative.split(os.sep)
    name = parts[-1]
    if replace_refusal(path, None) is not None:  # a link (someone put it there, whatever it points at), a folder
        return False
    if len(parts) == 3 and parts[0] == SNAPSHOTS:
        return bool(_SNAPSHOT_TEMPORARY.match(name)) or (bool(_SNAPSHOT.match(name)) and _snapshot_is_ours(path))
    if len(parts) == 2 and parts[0] == SHOWN_FOLDER:
        temporary = _JSON_TEMPORARY.match(name)
        return bool(temporary) or (name.endswith(".json") and written_kind(path) == "shown")
    if len(parts) != 1:
        return False
    if name == MANIFEST:
        return _manifest_is_ours(path, version.key)
    if RENDERING_MARKER.match(name):
        return written_kind(path) == "rendering"
    if frames.match(name):
        return name.lower().endswith(".exr") and exr_is_ours(path)
    temporary = _FRAME_TEMPORARY.match(name) or _JSON_TEMPORARY.match(name)
    if temporary:
        own = temporary.group("name")
        return bool(frames.match(own) or own == MANIFEST or RENDERING_MARKER.match(own))
    return bool(_WRITE_TEST.match(name)) and os.path.getsize(path) == 0


def _marker_reason(path: str, now: float) -> Optional[str]:
    """Why the rendering marker at ``path`` says a render is writing its folder (None: its render is over)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        touched = os.path.getmtime(path)
    except (OSError, ValueError):
        return None  # gone, or being written (then new: the recent-file rule keeps the version)
    if not isinstance(data, dict):
        return None
    pid, host = data.get("pid"), data.get("host")
    if host != socket.gethostname():
        if now - touched < MARKER_STALE_S:
            return f"a render on {host} is writing it"
        return None  # its heartbeat stopped: the render on that machine died
    if isinstance(pid, int) and process_alive(pid) and (os.name != "nt" or now - touched < MARKER_STALE_S):
        return f"a render (process {pid}) is writing it"  # (Windows cannot tell a dead process: its heartbeat can)
    return None


def rendering_reason(folder: str, files: Iterable[Tuple[str, float]], now: Optional[float] = None) -> Optional[str]:
    """Why the version in ``folder`` may be rendering right now (None: it is not); ``files`` are its
    (relative path, modification time) pairs. A render marks its folder (:data:`.versions.RENDERING_MARKER`)
    before it loads its model: while its process lives (on this machine), or while its heartbeat is recent
    (another machine's)."""
    now = time.time() if now is None else now
    for relative, modified in files:
        name = os.path.basename(relative)
        if relative == name and RENDERING_MARKER.match(name):
            reason = _marker_reason(os.path.join(folder, name), now)
            if reason is not None:
                return reason
    for relative, modified in files:
        match = _TEMPORARY.match(os.path.basename(relative))
        pid = int(match.group(1) or match.group(2)) if match else 0
        if match and process_alive(pid):  # the engine's own rule: a temporary is stale once its process is gone
            return f"a render (process {pid}) is writing it"
        if now - modified < ACTIVE_S:
            return f"written in the last {int(ACTIVE_S // 60)} minutes (a render may still be running)"
    return None


def _project_folder(relative: str) -> bool:
    """Whether ``relative`` (to a version folder) is a folder the project makes there: the version folder, the
    snapshot folders and the shown markers' folder. Only these are removed once pruning left them empty."""
    parts = os.path.normpath(relative).split(os.sep)
    return parts == ["."] or parts == [SHOWN_FOLDER] or (parts[0] == SNAPSHOTS and len(parts) <= 2)


def _walk(folder: str) -> List[Tuple[str, float, int]]:
    """(relative path, modification time, size) of every file under ``folder``; links (to files or folders)
    are listed as files and never followed, as are empty folders the project does not make (a user's)."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        if root != folder and not names and not dirs and not _project_folder(os.path.relpath(root, folder)):
            names = [""]  # the empty folder itself
        for name in list(names) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found.append((os.path.relpath(path, folder), info.st_mtime, info.st_size if name else 0))
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
    newest: bool = False
    """It is the newest complete version of its node (only ``keep`` 0 removes it): ask before removing it."""


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
        """One line per version, for a console or a node's status; the files that stay are named (the first 3)."""
        verb = "would remove" if dry_run else "remove"
        out = []
        for removal in self.remove:
            named = ", ".join(removal.foreign[:3]) + (", ..." if len(removal.foreign) > 3 else "")
            extra = f"; {len(removal.foreign)} files not written by flashdepth-vfx stay: {named}" if removal.foreign \
                else ""
            size = size_text(removal.size)
            out.append(f"{verb} {removal.version.folder} ({len(removal.files)} files, {size}){extra}")
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
    seen_complete = False
    for info in describe_versions(output_dir):
        version = info.version
        newest = info.complete and not seen_complete
        seen_complete = seen_complete or info.complete
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
        if reason is None and not info.complete and not seen_complete:
            reason = "partial and newer than every complete version (finish it, or render again)"
        if info.complete and reason is not None:
            complete_kept += 1
        if reason is not None:
            plan.keep.append(Kept(version, reason))
            continue
        frames = frame_names(version.pattern)
        ours = {path for path, _, _ in files if _is_ours(version, path, frames)}
        locked = sorted(path for path in ours if _read_only(os.path.join(version.folder, path)))
        if locked:
            plan.keep.append(Kept(version, f"{len(locked)} of its files are read-only (locked: {locked[0]}); make "
                                           "them writable to let it go"))
            continue
        foreign = tuple(sorted(path for path, _, _ in files if path not in ours))
        size = sum(size for path, _, size in files if path in ours)
        plan.remove.append(Removal(version, tuple(path for path, _, _ in files if path in ours), size, foreign,
                                   _listing(files), newest))
    return plan


def _read_only(path: str) -> bool:
    """A file nobody may write (locked with chmod a-w, approved frames): removing it needs only the folder's
    permission, so pruning asks its mode."""
    try:
        return not os.lstat(path).st_mode & 0o222
    except OSError:
        return False


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
    removed (permissions, or changed since the plan). Each version is listed again right before its files go:
    one whose folder changed since the plan (a render marked it before loading its model, a node marked it
    shown) is not touched: it moves from ``plan.remove`` to ``plan.keep``."""
    failed = []
    for removal in list(plan.remove):
        if _listing(_walk(removal.version.folder)) != removal.listing:
            plan.remove.remove(removal)
            plan.keep.append(Kept(removal.version, CHANGED))
            continue
        for relative in sorted(removal.files, key=lambda name: name == MANIFEST):  # the manifest last: a prune
            path = os.path.join(removal.version.folder, relative)  # cut short leaves a version the next one finds
            try:
                os.remove(path)
            except FileNotFoundError:
                continue
            except OSError:
                failed.append(path)
        for root, _, _ in sorted(os.walk(removal.version.folder, followlinks=False), key=lambda item: -len(item[0])):
            if not _project_folder(os.path.relpath(root, removal.version.folder)):
                continue  # a user's folder stays, even empty
            try:
                os.rmdir(root)  # only empty folders go: what the project did not write keeps its folder
            except OSError:
                continue
    return failed


def clear_preview(preview: DepthVersion) -> None:
    """Remove the frames *Preview frame* rendered with ``preview``'s settings (the shot is rendered now): only the
    files the engine wrote there (:func:`_is_ours`), then the folders left empty; nothing while a preview renders
    into it. Best effort: what cannot go stays."""
    files = _walk(preview.folder)
    now = time.time()
    if any(RENDERING_MARKER.match(name) and _marker_reason(os.path.join(preview.folder, name), now)
           for name, _, _ in files):
        return
    frames = frame_names(preview.pattern)
    for relative, _, _ in files:
        if _is_ours(preview, relative, frames):
            try:
                os.remove(os.path.join(preview.folder, relative))
            except OSError:
                continue
    folders = sorted((root for root, _, _ in os.walk(preview.folder, followlinks=False)), key=len, reverse=True)
    for folder in folders + [os.path.dirname(preview.folder)]:
        try:
            os.rmdir(folder)  # only when empty
        except OSError:
            continue


def clear_previews(output_dir: str, plate: str) -> None:
    """Remove the frames *Preview frame* rendered of ``plate`` under a node's output folder, with any settings
    (:func:`clear_preview` each): the shot is rendered, the one-frame previews have served."""
    try:
        with os.scandir(os.path.join(output_dir, PREVIEW_FOLDER)) as entries:
            keys = [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for key in keys:
        clear_preview(DepthVersion.preview_in(output_dir, key, plate))


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

