"""Versioned depth outputs and the node status read from disk.

Every combination of settings that changes the depth pixels (plate, model or checkpoint, colour space and
OCIO config, output mode, device, precision; not the frame range or where the folder is) gets its own
folder, ``<output folder>/<settings key>/``. A new render therefore never overwrites the depth a node shows:
the loader keeps showing the previous version until the new one is complete (or the artist chooses it). The key
hashes what the inputs *are*, not where one machine sees them (:func:`job_identity`): another artist opening the
script with the show mounted elsewhere, the tool installed elsewhere or another Nuke point release finds the same
versions current.

A status check costs a fixed number of file-system calls whatever the frame count (a listing per version, never
a look-up per frame): a script of hundreds of nodes on network storage opens without stalling the host.

:func:`node_status` compares what is on disk with a node's settings: *current* (every asked frame rendered
with these settings), *partial* (some: finish with ``--resume``), *stale* (the loader shows depth of other
settings), *missing* (the shown files are gone), *none*. An artist may also *choose* an older version
(:func:`describe_versions` lists them for a node's version menu): the loader then keeps it whatever the settings,
and the status says *stale* while its settings differ from the node's.

Each version folder records who uses it, so that pruning (:mod:`.prune`) never removes what a node shows or a
render is writing: a marker per node showing it (:func:`mark_shown`) and one per render in progress
(:meth:`DepthVersion.rendering`).

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from flashdepth_vfx.bridge import RenderJob
from flashdepth_vfx.bridge.runner import process_alive
from flashdepth_vfx.errors import FlashDepthError

from .colour import config_identity
from .export import content_stamp, plate_identity
from .frames import parse_frames
from .paths import frame_file, output_pattern, sequence_frames

MANIFEST = "flashdepth_version.json"
"""The file in each version folder that records the settings it was rendered with."""
KIND_KEY = "flashdepth:kind"
"""The top-level key that marks a JSON file as the project's (as :mod:`flashdepth_vfx.plates.output_guard` reads it)."""
SHOWN_FOLDER = ".flashdepth_shown"
"""In a version folder: one small JSON file per node whose loader shows this version."""
RENDERING = ".flashdepth_rendering.json"
"""In a version folder while a host node renders into it: the host machine and process."""
RENDERING_MARKER = re.compile(r"^\.flashdepth_rendering(?:\.\d+-[0-9a-f]+)?\.json$")
"""The names of rendering markers: a host node's (:data:`RENDERING`) and the engine's, one per process
(:func:`engine_marker_name`), written in its output folder before it loads the model."""
HEARTBEAT_S = 60.0
"""How often a rendering marker is touched while its render runs."""
MARKER_STALE_S = 600.0
"""A rendering marker of another machine not touched for this long is left by a render that died there."""
_LABEL_TIME = "%Y-%m-%d %H:%M"
_NEW_FOLDERS: Set[str] = set()  # version folders this process made for a render that has not ended yet
PREVIEW_FOLDER = ".flashdepth_preview"
"""In a node's output folder: the frames *Preview frame* rendered, one sub-folder per settings key. No manifest:
never a version (not in the version menu, never pruned as one); a preview of the same frame and settings is
overwritten by the engine (its output guard replaces only its own files), and the node's previews go once its shot
is rendered (:func:`.prune.clear_previews`)."""
RESOLVE_PROJECT = "DaVinci Resolve project"
"""How a shown record names a Resolve project (its media pool imported the version): no file, so never stale."""


def job_settings(job: RenderJob) -> Dict[str, Any]:
    """The settings of ``job`` that make its depth (what a manifest records): all but the output, frames and
    ``resume``."""
    return {k: v for k, v in job.to_dict().items() if k not in ("output", "frames", "resume")}


def _write_json(path: str, data: Dict[str, Any]) -> None:
    """Write ``data`` atomically (a temporary beside it, then renamed over it)."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(temporary, path)


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


_PATH_ARGS = {"--camera": "name", "--points": "content"}
"""Engine options whose value is a file: a host's camera file is named by its content (:func:`.camera.camera_file`),
a points file is keyed by its content."""


def _file_identity(path: str) -> str:
    stamp = content_stamp(path)
    return stamp if stamp != "missing" else f"missing:{os.path.basename(path)}"


_LOSSLESS_ARGS = ("--compression",)
"""Engine options that change how the files are stored, never the depth in them: not part of the key."""


def _args_identity(args: Sequence[str]) -> List[str]:
    out: List[str] = []
    for index, arg in enumerate(args):
        if arg in _LOSSLESS_ARGS or (index and args[index - 1] in _LOSSLESS_ARGS):
            continue
        kind = _PATH_ARGS.get(args[index - 1]) if index else None
        out.append(os.path.basename(arg) if kind == "name" else _file_identity(arg) if kind == "content" else arg)
    return out


def job_identity(job: RenderJob, output_dir: str = "") -> Dict[str, Any]:
    """The settings of ``job`` that make its depth (:func:`job_settings`), each file as what it is rather than
    where it is mounted or installed: the plate by :func:`.export.plate_identity` (a node's own export of its
    input, under ``output_dir``, by its place there: that folder is named by the input's content), the OCIO config
    by :func:`.colour.config_identity`, the checkpoint and points files by their content, the camera file by its
    name (its content hash)."""
    identity = job_settings(job)
    plate = os.path.normpath(job.plate)
    inside = bool(output_dir) and plate.startswith(os.path.join(os.path.normpath(output_dir), ""))
    identity["plate"] = ("node:" + os.path.relpath(plate, output_dir).replace(os.sep, "/") if inside
                         else plate_identity(job.plate))
    identity["checkpoint"] = _file_identity(job.checkpoint) if job.checkpoint else None
    identity["ocio_config"] = config_identity(job.ocio_config)
    identity["extra_args"] = _args_identity(job.extra_args)
    return identity


def settings_key(job: RenderJob, output_dir: str = "") -> str:
    """16 hex digits naming the depth a job makes: a hash of :func:`job_identity` (the output, the frame range and
    ``resume`` do not count: rendering more frames, or finishing, adds to the same version). The same plates,
    config and settings seen from two machines give one key."""
    identity = {k: v for k, v in job_identity(job, output_dir).items() if v is not None and v is not False and v != []}
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def legacy_key(job: RenderJob) -> str:
    """The key releases before content keys named a version by (a hash of the paths as this machine sees them):
    a node keeps finding the versions it rendered then."""
    return dataclasses.replace(job, output=None, frames=None, resume=False).fingerprint()


@dataclass(frozen=True)
class DepthVersion:
    """One version of a node's depth: the settings key and the printf pattern of its frames."""

    key: str
    pattern: str

    @classmethod
    def in_folder(cls, output_dir: str, key: str, plate: str) -> DepthVersion:
        """The version ``key`` of ``plate``'s depth under a node's output folder."""
        return cls(key, output_pattern(plate, os.path.join(output_dir, key)))

    @classmethod
    def preview_in(cls, output_dir: str, key: str, plate: str) -> DepthVersion:
        """Where *Preview frame* writes the frames of settings ``key`` (:data:`PREVIEW_FOLDER`)."""
        return cls(key, output_pattern(plate, os.path.join(output_dir, PREVIEW_FOLDER, key)))

    @property
    def folder(self) -> str:
        return os.path.dirname(self.pattern)

    @property
    def is_preview(self) -> bool:
        """Frames *Preview frame* rendered, not a version of the shot."""
        return os.path.basename(os.path.dirname(self.folder)) == PREVIEW_FOLDER

    def frame_file(self, frame: int) -> str:
        return frame_file(self.pattern, frame)

    def frames_on_disk(self, frames: Iterable[int]) -> List[int]:
        """Those of ``frames`` whose depth file exists (one listing of the folder, not a look-up per frame)."""
        on_disk = set(self.on_disk())
        return [frame for frame in frames if frame in on_disk]

    def on_disk(self) -> List[int]:
        """Every frame of this version on disk."""
        return sequence_frames(self.pattern)

    def to_json(self) -> str:
        """What a node stores to remember the version its loader shows."""
        return json.dumps({"key": self.key, "pattern": self.pattern}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Optional[DepthVersion]:
        """The stored version, or None when there is none or it is unreadable (an old or hand-edited scene)."""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        key, pattern = data.get("key"), data.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str) or not key or not pattern:
            return None
        return cls(key, pattern)

    def write_manifest(self, job: RenderJob) -> None:
        """Record ``job``'s settings and the frames it asks for in the version folder (created if needed), for
        people, for :func:`list_versions` and for :func:`describe_versions` (whether the version is complete).
        A render into an existing version keeps the date it was first made."""
        old = self.manifest() or {}
        created = old.get("created") if isinstance(old.get("created"), str) else None
        data = {KIND_KEY: "version", "key": self.key, "pattern": self.pattern, "settings": job_settings(job),
                "frames": job.frames or "", "created": created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "identity": job_identity(job, os.path.dirname(self.folder))}
        if not os.path.isdir(self.folder):
            os.makedirs(self.folder)
            _NEW_FOLDERS.add(self.folder)
        _write_json(os.path.join(self.folder, MANIFEST), data)

    def manifest(self) -> Optional[Dict[str, Any]]:
        """The recorded settings, or None when the folder has no readable manifest."""
        return _read_json(os.path.join(self.folder, MANIFEST))

    @contextlib.contextmanager
    def rendering(self) -> Iterator[None]:
        """Mark the version as being rendered (by this machine and process) for the ``with`` block, so that
        pruning leaves it alone (:func:`rendering_marker`). A render that ended before its first frame (a failed
        start: a bad config, no engine, cancelled while loading) leaves no version behind: its manifest goes, and the
        folder too when this process made it and nothing else is in it."""
        try:
            with rendering_marker(self.folder):
                yield
        finally:
            made_here = self.folder in _NEW_FOLDERS
            _NEW_FOLDERS.discard(self.folder)
            if not self.on_disk():
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.folder, MANIFEST))
                if made_here:
                    with contextlib.suppress(OSError):
                        os.rmdir(self.folder)  # only when empty: whatever else is there stays


def _remove_stale_markers(folder: str) -> None:
    """Remove the rendering markers that renders on this machine left when they were killed (process gone)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            data = _read_json(os.path.join(folder, name)) if RENDERING_MARKER.match(name) else None
            if data is not None and data.get(KIND_KEY) == "rendering" and data.get("host") == socket.gethostname() \
                    and isinstance(data.get("pid"), int) and not process_alive(data["pid"]):
                os.remove(os.path.join(folder, name))


def engine_marker_name() -> str:
    """The engine's rendering marker in its output folder: one per process (renders of several shots may share
    a folder, and a host node's render has its own marker there too)."""
    return f".flashdepth_rendering.{os.getpid()}-{secrets.token_hex(4)}.json"


@contextlib.contextmanager
def rendering_marker(folder: str, name: str = RENDERING) -> Iterator[str]:
    """Mark ``folder`` (created if needed) as being rendered by this machine and process for the ``with`` block,
    so that pruning leaves it alone: a marker file naming the host and process, touched every
    :data:`HEARTBEAT_S` seconds (another machine sees a render that died there by its age), removed when the
    block ends, however it ends. Yields the marker's path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    _remove_stale_markers(folder)
    _write_json(path, {KIND_KEY: "rendering", "host": socket.gethostname(), "pid": os.getpid(),
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(path)

    threading.Thread(target=heartbeat, name="flashdepth-rendering-marker", daemon=True).start()
    try:
        yield path
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            os.remove(path)


def _user_file(version: DepthVersion, user: str) -> str:
    name = hashlib.sha256(user.encode("utf-8")).hexdigest()[:16]
    return os.path.join(version.folder, SHOWN_FOLDER, f"{name}.json")


def mark_shown(version: DepthVersion, scene: str, node: str, previous: Optional[DepthVersion] = None) -> None:
    """Record that ``node`` of the saved ``scene`` (a script, .hip or comp file; "" when unsaved) on this machine
    shows ``version`` now, and no longer ``previous``. Best effort: a folder that cannot be written (read-only
    media) only loses the record."""
    user = f"{scene or 'unsaved scene'} {node}"
    if previous is not None and previous != version:
        with contextlib.suppress(OSError):
            os.remove(_user_file(previous, user))
    path = _user_file(version, user)
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_json(path, {KIND_KEY: "shown", "user": user, "scene": scene, "node": node,
                           "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def keep_shown(version: DepthVersion, scene: str, node: str) -> None:
    """Make sure ``node`` of ``scene`` is recorded as showing ``version`` (see :func:`mark_shown`) while its folder
    is there: a node pasted from another scene, or a scene saved under a new name and reopened, shows a version
    that no record of its own keeps. Writes only a missing record, and none for an unsaved scene ("": its record
    could never be found stale)."""
    if scene and not os.path.isfile(_user_file(version, f"{scene} {node}")) and os.path.isdir(version.folder):
        mark_shown(version, scene, node)


def shown_by(folder: str) -> List[str]:
    """The nodes recorded as showing the version in ``folder`` (see :func:`mark_shown`), as "scene node". A
    record made on this machine whose saved scene file no longer exists does not count (a deleted or renamed
    script shows nothing); one naming no file (a Resolve project's media pool) or made on another machine always
    counts (its scene may be on that machine's disk, or
    under another operating system's path, where this machine cannot look)."""
    users = []
    try:
        names = sorted(os.listdir(os.path.join(folder, SHOWN_FOLDER)))
    except OSError:
        return []
    for name in names:
        data = _read_json(os.path.join(folder, SHOWN_FOLDER, name))
        if data is None or data.get(KIND_KEY) != "shown" or not isinstance(data.get("user"), str):
            continue
        scene = data.get("scene")
        here = data.get("host") == socket.gethostname()
        if here and isinstance(scene, str) and os.path.isabs(scene) and not os.path.exists(scene):
            continue  # (a scene that is no file, such as a Resolve project, always counts)
        users.append(str(data["user"]))
    return users


def settings_summary(settings: Dict[str, Any]) -> str:
    """A version's settings in a few words for a menu: the model (or checkpoint file), the output mode, the
    colour space, and the shot solve when it has one."""
    checkpoint = settings.get("checkpoint")
    model = os.path.basename(str(checkpoint)) if checkpoint else str(settings.get("model") or "default model")
    parts = [model, str(settings.get("mode") or "depth"), str(settings.get("colorspace") or "file colour space")]
    if settings.get("precision"):
        parts.append(str(settings["precision"]))
    if "--camera" in (settings.get("extra_args") or []):
        parts.append("solved to camera")
    return ", ".join(parts)


@dataclass(frozen=True)
class VersionInfo:
    """What a version menu says about one version on disk."""

    version: DepthVersion
    summary: str
    """:func:`settings_summary` of its manifest."""
    frames: int
    """Depth frames on disk."""
    complete: bool
    """Every frame its last render asked for is on disk."""
    modified: float
    """When a render last started into it (the manifest's time stamp)."""

    @property
    def label(self) -> str:
        """One menu line: short key, settings, frame count, complete or partial, date (no ``/``: Nuke menus
        would read it as a sub-menu)."""
        state = "complete" if self.complete else "partial"
        when = time.strftime(_LABEL_TIME, time.localtime(self.modified))
        return f"{self.version.key[:8]}  {self.summary}  {self.frames} fr {state}  {when}".replace("/", "-")


def _asked_frames(manifest: Dict[str, Any]) -> List[int]:
    """The frames a version's last render asked for: the manifest's ``frames``, else the plate's whole sequence."""
    spec = manifest.get("frames")
    if isinstance(spec, str) and spec.strip():
        try:
            return parse_frames(spec)
        except FlashDepthError:
            pass
    settings = manifest.get("settings")
    plate = settings.get("plate") if isinstance(settings, dict) else None
    return sequence_frames(plate) if isinstance(plate, str) else []


def describe(version: DepthVersion, modified: Optional[float] = None,
             manifest: Optional[Dict[str, Any]] = None) -> VersionInfo:
    """What is on disk of ``version``, for a menu (``manifest``: its manifest, when already read)."""
    manifest = manifest if manifest is not None else version.manifest() or {}
    settings = manifest.get("settings")
    on_disk = version.on_disk()
    asked = _asked_frames(manifest)
    if modified is None:
        try:
            modified = os.path.getmtime(os.path.join(version.folder, MANIFEST))
        except OSError:
            modified = 0.0
    complete = bool(on_disk) and set(asked or on_disk) <= set(on_disk)
    return VersionInfo(version, settings_summary(settings if isinstance(settings, dict) else {}), len(on_disk),
                       complete, modified)


def describe_versions(output_dir: str) -> List[VersionInfo]:
    """Every version under a node's output folder, newest first (:func:`list_versions`), described for a menu."""
    return [describe(version, modified, manifest) for version, modified, manifest in _versions_with_times(output_dir)]


def find_version(infos: Sequence[VersionInfo], label: str) -> Optional[DepthVersion]:
    """The version a menu line (a :attr:`VersionInfo.label`) names, by its short key; None when none or several
    match."""
    short = label.strip().split(" ", 1)[0]
    found = [info.version for info in infos if short and info.version.key.startswith(short)]
    return found[0] if len(found) == 1 else None


def _versions_with_times(output_dir: str) -> List[Tuple[DepthVersion, float, Dict[str, Any]]]:
    """(version, manifest time stamp, manifest) of the versions under ``output_dir``, newest first: the folders
    (not links) whose manifest has the folder's name as its key. The frames are looked for where the folder is
    now (a project moved since keeps its versions). One listing and one manifest read per version."""
    found = []
    try:
        with os.scandir(output_dir) as entries:  # says which entries are links without a call per entry
            folders = [entry.name for entry in entries if not entry.is_symlink() and entry.is_dir()]
    except OSError:
        return []
    for name in folders:
        try:  # the time from the open file: no second look-up of the path
            with open(os.path.join(output_dir, name, MANIFEST), encoding="utf-8") as handle:
                modified = os.fstat(handle.fileno()).st_mtime
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("key") != name or not isinstance(data.get("pattern"), str):
            continue
        found.append((DepthVersion(name, os.path.join(output_dir, name, os.path.basename(data["pattern"]))),
                      modified, data))
    return sorted(found, key=lambda item: item[1], reverse=True)


def list_versions(output_dir: str) -> List[DepthVersion]:
    """The versions under a node's output folder that have a manifest, newest first."""
    return [version for version, _, _ in _versions_with_times(output_dir)]


class DepthState(enum.Enum):
    """How the depth on disk relates to a node's settings."""

    NONE = "none"          # nothing rendered yet
    CURRENT = "current"    # every asked frame rendered with these settings
    PARTIAL = "partial"    # some of them (a cancelled or failed render): finish with --resume
    STALE = "stale"        # the loader shows depth rendered with other settings
    PREVIEW = "preview"    # the loader shows the one frame Preview frame rendered; the shot is not rendered yet
    MISSING = "missing"    # the files the loader showed are gone


STATE_COLOURS = {
    DepthState.NONE: 0x7A7A7AFF,
    DepthState.CURRENT: 0x3E8E4EFF,
    DepthState.PARTIAL: 0xD0A030FF,
    DepthState.STALE: 0xB8503AFF,
    DepthState.PREVIEW: 0x4A78B0FF,
    DepthState.MISSING: 0x9A2A2AFF,
}
"""Node tile colour per state (0xRRGGBBAA, as Nuke's ``tile_color`` takes it)."""


@dataclass(frozen=True)
class NodeStatus:
    """A node's status: its state, the version its settings make, how many of the asked frames that version
    has, the version the loader should show (None: none) and the one it showed."""

    state: DepthState
    wanted: DepthVersion
    done: int
    total: int
    show: Optional[DepthVersion]
    shown: Optional[DepthVersion] = None
    chosen: bool = False
    """The artist chose the shown version in the node's version menu (it stays shown whatever the settings)."""

    @property
    def colour(self) -> int:
        return STATE_COLOURS[self.state]

    @property
    def label(self) -> str:
        """One word for a node label."""
        if self.state is DepthState.PARTIAL:
            return f"partial {self.done}/{self.total}"
        if self.chosen and self.state is DepthState.STALE:
            return "stale (chosen version)"
        return str(self.state.value)

    @property
    def can_finish(self) -> bool:
        """Whether *Finish* (``--resume``) has frames to add."""
        return self.state is DepthState.PARTIAL

    def line(self, render_button: str = "Render depth", finish_button: str = "Finish") -> str:
        """The one-line status a node shows."""
        if self.state is DepthState.CURRENT:
            return f"Current: {self.done} frames rendered with these settings, in {self.wanted.folder}"
        if self.state is DepthState.PARTIAL:
            shown = "" if self.show == self.wanted else "; showing the previous version until then"
            return (f"Partial: {self.done} of {self.total} frames rendered with these settings; "
                    f"press {finish_button} to render the rest{shown}")
        if self.state is DepthState.STALE and self.chosen and self.shown is not None:
            manifest = self.shown.manifest() or {}
            settings = manifest.get("settings")
            summary = settings_summary(settings if isinstance(settings, dict) else {})
            ready = ("complete" if self.total and self.done == self.total
                     else f"{self.done} of {self.total} frames" if self.done else "not rendered")
            return (f"Stale: showing version {self.shown.key[:8]} chosen by hand ({summary}): its settings differ "
                    f"from the node's (their version is {ready}); choose latest in the version menu or press "
                    f"{render_button}")
        if self.state is DepthState.PREVIEW and self.shown is not None:
            frames = ", ".join(map(str, self.shown.on_disk()[:3]))
            if self.shown.key != self.wanted.key:
                return (f"Preview: frame {frames} rendered with other settings; press Preview frame again, or "
                        f"{render_button} for the shot")
            return f"Preview: frame {frames} only; press {render_button} for the shot"
        if self.state is DepthState.STALE:
            return f"Stale: the depth shown was rendered with other settings; press {render_button}"
        if self.state is DepthState.MISSING:
            folder = (self.shown or self.wanted).folder
            return f"Missing: the depth files are gone from {folder}; press {render_button}"
        return f"Not rendered yet: press {render_button}"


def node_status(wanted: DepthVersion, frames: Sequence[int], shown: Optional[DepthVersion],
                chosen: bool = False) -> NodeStatus:
    """The status of a node whose settings make version ``wanted`` for file ``frames``, while its loader
    shows ``shown``. A complete ``wanted`` is always the one to show; a partial one only when no complete
    previous version is there to keep. A version the artist ``chosen`` in the version menu stays shown: it is
    *stale* while it is not ``wanted`` (the compositor sees at a glance that the depth does not follow the
    knobs), *missing* when its files are gone. A ``shown`` preview (*Preview frame*) stays shown until depth of the
    settings is on disk: *preview*."""
    if shown is not None and shown.is_preview:
        status = node_status(wanted, frames, None)
        if status.done or not shown.on_disk():
            return status
        return NodeStatus(DepthState.PREVIEW, wanted, 0, status.total, shown, shown)
    total = len(frames)
    wanted_on_disk = set(wanted.on_disk())  # one listing per version, not a look-up per frame
    done = len([frame for frame in frames if frame in wanted_on_disk])
    shown_exists = shown is not None and bool(wanted_on_disk if shown == wanted else shown.on_disk())
    if chosen and shown is not None and shown != wanted:
        if not shown_exists:
            return NodeStatus(DepthState.MISSING, wanted, done, total, None, shown, chosen=True)
        return NodeStatus(DepthState.STALE, wanted, done, total, shown, shown, chosen=True)
    chosen = chosen and shown is not None
    if total and done == total:
        return NodeStatus(DepthState.CURRENT, wanted, done, total, wanted, shown, chosen=chosen)
    if done or (shown == wanted and shown_exists):  # some frames of these settings (or other frames of them)
        keep = shown if shown is not None and shown != wanted and shown_exists else wanted
        return NodeStatus(DepthState.PARTIAL, wanted, done, total, keep, shown, chosen=chosen)
    if shown is not None and shown_exists:
        return NodeStatus(DepthState.STALE, wanted, done, total, shown, shown, chosen=chosen)
    if shown is not None:
        return NodeStatus(DepthState.MISSING, wanted, done, total, None, shown, chosen=chosen)
    return NodeStatus(DepthState.NONE, wanted, done, total, None, None)
