"""Temporal-state snapshots beside the output: resume and random access start from the nearest good one.

A snapshot is a safetensors file holding the SSM state of every temporal layer, the cut detector's signature of
its frame (``--reset-on-cut``), and metadata: its frame, the frames the stream had seen, the source chain of the
plates that produced it (see :mod:`.resume`) and a SHA-256 of all of it. Before one is used it is checked: a
regular file that parses, labelled with its own frame, the shapes and dtype of this model's state, finite values,
a matching checksum, and the same plates. A damaged one is named in a warning and the render falls back to an
earlier one, or to the shot start; one made from plates that changed since is silently passed over.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import OutputError
from ..model import StreamState
from .resume import is_stale

_NAME = re.compile(r"^state\.(-?\d+)\.safetensors$")
_TEMP = re.compile(r"^\.state\.-?\d+\.tmp-(\d+)$")
STATE_DTYPE = torch.float32
SIGNATURE = "cut.signature"


@dataclass(frozen=True)
class SnapshotCheck:
    """What a usable snapshot of this render must hold."""

    shapes: Sequence[tuple[int, ...]]  # of the temporal layers' states, in order
    source: Mapping[int, str]  # the plates' source chain, by frame
    position: Mapping[int, int]  # frames the stream has seen after each frame when it never resets
    cuts: bool  # --reset-on-cut: the stream may have restarted (fewer frames seen); a cut signature is needed


@dataclass(frozen=True)
class Snapshot:
    """A checked snapshot: the stream state after ``frame`` and the cut signature of that frame."""

    frame: int
    state: StreamState
    cut_signature: np.ndarray | None


class InvalidSnapshot(Exception):
    """Why a snapshot file cannot be used (a short reason)."""


class _StalePlates(InvalidSnapshot):
    """The snapshot was made from other plates (re-delivered since): out of date, not damaged."""


def _checksum(tensors: Mapping[str, torch.Tensor], fields: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(dict(fields), sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


class SnapshotStore:
    """Snapshots of one render setup in ``<output folder>/.flashdepth/<state key>/state.<frame>.safetensors``.

    The snapshot named after frame F holds the state *after* frame F was processed.
    """

    def __init__(self, output_dir: Path, key: str, warn: Callable[[str], None] = lambda message: None) -> None:
        self.folder = output_dir / ".flashdepth" / key
        self.warn = warn

    def path(self, frame: int) -> Path:
        """Where the snapshot after ``frame`` lives."""
        return self.folder / f"state.{frame}.safetensors"

    def frames(self) -> list[int]:
        """Frames that have a snapshot, ascending."""
        try:
            names = [entry.name for entry in os.scandir(self.folder)]
        except OSError:  # no snapshots yet, or a folder that cannot be listed: start from the shot start
            return []
        return sorted(int(m.group(1)) for name in names if (m := _NAME.match(name)))

    def save(self, frame: int, state: StreamState, source: str, cut_signature: np.ndarray | None = None) -> None:
        """Store atomically (a half-written snapshot is never picked up); a full disk is a one-line OutputError."""
        from safetensors.torch import save

        tensors = {f"state.{i}": s.detach().cpu().contiguous() for i, s in enumerate(state.states)}
        if cut_signature is not None:
            tensors[SIGNATURE] = torch.from_numpy(np.asarray(cut_signature, dtype=np.float64).copy())
        fields = {**state.meta, "frame": str(frame), "frames_seen": str(state.frames_seen), "source": source}
        data = save(tensors, metadata={**fields, "checksum": _checksum(tensors, fields)})
        target = self.path(frame)
        if target.exists() and not target.is_file():
            self.warn(f"cannot save snapshot {target}: something else is in the way; remove it")
            return
        temp = self.folder / f".state.{frame}.tmp-{os.getpid()}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as handle:
                handle.write(data)
            os.replace(temp, target)
        except OSError as exc:
            raise OutputError(f"Cannot save the snapshot {target} (check the folder is writable and has space): "
                              f"{exc.strerror or exc}") from None
        finally:
            temp.unlink(missing_ok=True)

    def load(self, frame: int, check: SnapshotCheck) -> Snapshot:
        """The checked snapshot after ``frame``; InvalidSnapshot says why it cannot be used."""
        from safetensors import safe_open

        path = self.path(frame)
        if not path.is_file():
            raise InvalidSnapshot("not a file")
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = dict(handle.metadata() or {})
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for damaged files
            raise InvalidSnapshot(f"not a readable snapshot ({' '.join(str(exc).split())[:120] or type(exc).__name__})") from None
        checksum = meta.pop("checksum", None)
        if checksum is None:
            raise InvalidSnapshot("it has no checksum: this version of flashdepth-vfx did not write it as it is")
        if checksum != _checksum(tensors, meta):
            raise InvalidSnapshot("its checksum does not match its contents")
        if meta.get("frame") != str(frame):
            raise InvalidSnapshot(f"it holds the state after frame {meta.get('frame')}, not {frame}")
        try:
            seen = int(meta.pop("frames_seen"))
        except (KeyError, ValueError):
            raise InvalidSnapshot("it does not say how many frames it has seen") from None
        position = check.position[frame]
        if not (1 <= seen <= position if check.cuts else seen == position):
            raise InvalidSnapshot(f"it has seen {seen} frames, but frame {frame} is frame {position} of the shot")
        names = [f"state.{i}" for i in range(len(check.shapes))] + ([SIGNATURE] if check.cuts else [])
        if sorted(tensors) != sorted(names):
            raise InvalidSnapshot(f"it holds {len(tensors)} tensors, this model's state needs {len(names)}")
        for name, shape in zip(names, check.shapes):
            tensor = tensors[name]
            if tuple(tensor.shape) != tuple(shape) or tensor.dtype != STATE_DTYPE:
                raise InvalidSnapshot(f"{name} is {tensor.dtype} {list(tensor.shape)}, expected {STATE_DTYPE} {list(shape)}")
        if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
            raise InvalidSnapshot("it holds NaN or Inf values")
        if meta.pop("source", None) != check.source[frame]:
            raise _StalePlates
        states = [tensors[f"state.{i}"] for i in range(len(check.shapes))]
        meta.pop("frame")
        signature = tensors[SIGNATURE].numpy() if check.cuts else None
        return Snapshot(frame, StreamState(states, seen, meta), signature)

    def restore_point(self, before: int, check: SnapshotCheck) -> Snapshot | None:
        """The latest good snapshot of a shot frame strictly before ``before``; damaged ones are named in a warning."""
        for frame in reversed(self.frames()):
            if frame >= before or frame not in check.position:
                continue
            try:
                return self.load(frame, check)
            except _StalePlates:
                continue  # made from plates that changed since: not damaged, just out of date
            except InvalidSnapshot as exc:
                self.warn(f"snapshot {self.path(frame)} is unusable ({exc}); starting from an earlier one or the shot "
                          "start instead (the same depth, more frames to process); nothing to do unless this repeats, "
                          "then delete that file")
        return None

    def remove_stale_temporaries(self) -> None:
        """Delete temporaries of snapshots that killed renders left behind."""
        try:
            paths = [Path(entry.path) for entry in os.scandir(self.folder)]
        except OSError:
            return
        for path in paths:
            match = _TEMP.match(path.name)
            if match is not None and is_stale(path, int(match.group(1))):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass  # not ours to remove (permissions): leave it

