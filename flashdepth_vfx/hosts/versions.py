"""Versioned depth outputs and the node status read from disk.

Every combination of settings that changes the depth pixels (plate, model or checkpoint, colour space and
OCIO config, output mode, device, precision; not the frame range or where the folder is) gets its own
folder, ``<output folder>/<settings key>/``. A new render therefore never overwrites the depth a node shows:
the loader keeps showing the previous version until the new one is complete (or the artist chooses it).

:func:`node_status` compares what is on disk with a node's settings: *current* (every asked frame rendered
with these settings), *partial* (some: finish with ``--resume``), *stale* (the loader shows depth of other
settings), *missing* (the shown files are gone), *none*.

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import dataclasses
import enum
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from flashdepth_vfx.bridge import RenderJob

from .paths import frame_file, output_pattern, sequence_frames

MANIFEST = "flashdepth_version.json"
"""The file in each version folder that records the settings it was rendered with."""


def settings_key(job: RenderJob) -> str:
    """16 hex digits naming the depth a job makes: its fingerprint without the output, the frame range and
    ``resume`` (rendering more frames, or finishing, adds to the same version)."""
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

    @property
    def folder(self) -> str:
        return os.path.dirname(self.pattern)

    def frame_file(self, frame: int) -> str:
        return frame_file(self.pattern, frame)

    def frames_on_disk(self, frames: Iterable[int]) -> List[int]:
        """Those of ``frames`` whose depth file exists."""
        return [frame for frame in frames if os.path.isfile(self.frame_file(frame))]

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
        """Record ``job``'s settings in the version folder (created if needed), for people and for
        :func:`list_versions`."""
        settings = {k: v for k, v in job.to_dict().items() if k not in ("output", "frames", "resume")}
        data = {"key": self.key, "pattern": self.pattern, "settings": settings,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, MANIFEST)
        temporary = f"{path}.tmp-{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(temporary, path)

    def manifest(self) -> Optional[Dict[str, Any]]:
        """The recorded settings, or None when the folder has no readable manifest."""
        try:
            with open(os.path.join(self.folder, MANIFEST), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def list_versions(output_dir: str) -> List[DepthVersion]:
    """The versions under a node's output folder that have a manifest, newest first."""
    found = []
    try:
        names = os.listdir(output_dir)
    except OSError:
        return []
    for name in names:
        path = os.path.join(output_dir, name, MANIFEST)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            version = DepthVersion(str(data["key"]), str(data["pattern"]))
            found.append((os.path.getmtime(path), version))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [version for _, version in sorted(found, key=lambda item: item[0], reverse=True)]


class DepthState(enum.Enum):
    """How the depth on disk relates to a node's settings."""

    NONE = "none"          # nothing rendered yet
    CURRENT = "current"    # every asked frame rendered with these settings
    PARTIAL = "partial"    # some of them (a cancelled or failed render): finish with --resume
    STALE = "stale"        # the loader shows depth rendered with other settings
    MISSING = "missing"    # the files the loader showed are gone


STATE_COLOURS = {
    DepthState.NONE: 0x7A7A7AFF,
    DepthState.CURRENT: 0x3E8E4EFF,
    DepthState.PARTIAL: 0xD0A030FF,
    DepthState.STALE: 0xB8503AFF,
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

    @property
    def colour(self) -> int:
        return STATE_COLOURS[self.state]

    @property
    def label(self) -> str:
        """One word for a node label."""
        if self.state is DepthState.PARTIAL:
            return f"partial {self.done}/{self.total}"
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
        if self.state is DepthState.STALE:
            return f"Stale: the depth shown was rendered with other settings; press {render_button}"
        if self.state is DepthState.MISSING:
            folder = (self.shown or self.wanted).folder
            return f"Missing: the depth files are gone from {folder}; press {render_button}"
        return f"Not rendered yet: press {render_button}"


def node_status(wanted: DepthVersion, frames: Sequence[int], shown: Optional[DepthVersion]) -> NodeStatus:
    """The status of a node whose settings make version ``wanted`` for file ``frames``, while its loader
    shows ``shown``. A complete ``wanted`` is always the one to show; a partial one only when no complete
    previous version is there to keep."""
    total = len(frames)
    done = len(wanted.frames_on_disk(frames))
    shown_exists = shown is not None and bool(shown.on_disk())
    if total and done == total:
        return NodeStatus(DepthState.CURRENT, wanted, done, total, wanted, shown)
    if done or (shown == wanted and shown_exists):  # some frames of these settings (or other frames of them)
        keep = shown if shown is not None and shown != wanted and shown_exists else wanted
        return NodeStatus(DepthState.PARTIAL, wanted, done, total, keep, shown)
    if shown is not None and shown_exists:
        return NodeStatus(DepthState.STALE, wanted, done, total, shown, shown)
    if shown is not None:
        return NodeStatus(DepthState.MISSING, wanted, done, total, None, shown)
    return NodeStatus(DepthState.NONE, wanted, done, total, None, None)
