"""A host's matchmove camera handed to the engine's shot solve, and the P / N pass options.

Hosts sample their camera per file frame (the frames the engine reads: hosts map their timeline first, see
:mod:`.frames`) into :class:`CameraSample` rows; :func:`chan_text` writes them as a Nuke ``.chan`` file, the format
the solve reads (``frame tx ty tz rx ry rz vfov``: translate, rotate in degrees, the *vertical* field of view in
degrees, ``vfov = 2 atan(vaperture / (2 focal))``). The file is named by its content (:func:`camera_file`), so a
changed camera is a changed engine argument and therefore a new depth version.

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from flashdepth_vfx.errors import FlashDepthError

OFF = "off"
PASSES = (OFF, "camera", "world")
"""Menu of the position / normal pass knobs: off, or the space the pass is written in."""
POSITION_CHANNELS = ("P.red", "P.green", "P.blue")
"""Nuke's names of the position layer the solve writes (EXR ``P.R/G/B``)."""
NORMAL_CHANNELS = ("N.red", "N.green", "N.blue")
"""Nuke's names of the normal layer the solve writes (EXR ``N.R/G/B``)."""
ROTATION_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
"""Rotation orders a .chan can be read with (the solve's ``--rotation-order``; Nuke's default is ZXY)."""
CAMERA_FOLDER = "cameras"
"""Sub-folder of a node's output folder holding the .chan files of its cameras."""

Vec3 = Tuple[float, float, float]


@dataclass(frozen=True)
class CameraSample:
    """A camera at one file frame: world translate, rotate (degrees, in the camera's rotation order), focal length
    and film back (horizontal, vertical aperture), both in millimetres."""

    frame: int
    translate: Vec3
    rotate: Vec3
    focal: float
    h_aperture: float
    v_aperture: float

    def vertical_fov(self) -> float:
        """The vertical field of view in degrees, as Nuke writes it in a .chan file."""
        return math.degrees(2.0 * math.atan(self.v_aperture / (2.0 * self.focal)))


def check_samples(samples: Sequence[CameraSample], name: str) -> None:
    """FlashDepthError (naming the camera ``name`` and the frame) when the samples cannot make a .chan camera."""
    if not samples:
        raise FlashDepthError(f"camera {name} gave no frames: check the frame range")
    first = samples[0]
    for sample in samples:
        if not (sample.focal > 0 and sample.h_aperture > 0 and sample.v_aperture > 0):
            raise FlashDepthError(f"camera {name} frame {sample.frame}: focal length {sample.focal:g} mm and film "
                                  f"back {sample.h_aperture:g} x {sample.v_aperture:g} mm must be positive")
        if (sample.h_aperture, sample.v_aperture) != (first.h_aperture, first.v_aperture):
            raise FlashDepthError(f"camera {name}: the film back is animated (frame {sample.frame}); the solve "
                                  "takes one film back per shot, so bake a constant aperture")


def chan_text(samples: Sequence[CameraSample]) -> str:
    """The .chan file of ``samples``: one line per frame, ``frame tx ty tz rx ry rz vfov``."""
    lines = []
    for s in samples:
        values = (*s.translate, *s.rotate, s.vertical_fov())
        lines.append(" ".join([str(s.frame)] + [f"{v:.10g}" for v in values]))
    return "\n".join(lines) + "\n"


def camera_file(output_dir: str, text: str) -> str:
    """Where the .chan ``text`` of a node's camera lives: ``<output_dir>/cameras/<content hash>.chan``."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return os.path.join(output_dir, CAMERA_FOLDER, f"{digest}.chan")


def write_camera_file(path: str, text: str) -> None:
    """Write a .chan file atomically (a file of the same name holds the same content, so an existing one stays)."""
    if os.path.isfile(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def camera_args(path: str, samples: Sequence[CameraSample], rotation_order: str) -> List[str]:
    """Engine arguments reading the .chan at ``path``: the film back the vertical FOV column was computed with,
    and the camera's rotation order when it is not Nuke's default."""
    order = rotation_order.upper()
    if order not in ROTATION_ORDERS:
        raise FlashDepthError(f"rotation order {rotation_order!r} is not one of {', '.join(ROTATION_ORDERS)}")
    first = samples[0]
    args = ["--camera", path, "--filmback", f"{first.h_aperture:.10g}x{first.v_aperture:.10g}"]
    if order != "ZXY":
        args += ["--rotation-order", order]
    return args


def pass_args(position: str, normals: str) -> List[str]:
    """Engine arguments for the position / normal passes (each ``off``, ``camera`` or ``world``)."""
    args: List[str] = []
    for option, value in (("--position", position), ("--normals", normals)):
        value = value.strip() or OFF
        if value not in PASSES:
            raise FlashDepthError(f"{option[2:]} pass {value!r} is not one of {', '.join(PASSES)}")
        if value != OFF:
            args += [option, value]
    return args



def version_passes(manifest: Optional[Mapping[str, Any]]) -> Tuple[bool, bool]:
    """Whether a depth version's files hold P and N, from its manifest (:meth:`.versions.DepthVersion.manifest`):
    the loader shows the passes a version has, not the ones the knobs ask for now."""
    settings = (manifest or {}).get("settings")
    args = settings.get("extra_args") if isinstance(settings, dict) else None
    args = list(args) if isinstance(args, list) else []
    return "--position" in args, "--normals" in args


@dataclass(frozen=True)
class SolveRequest:
    """A node's shot-solve request: the engine arguments, and the .chan file they read with its text ("" and ""
    without a camera). Write the file (:meth:`write`) before the engine starts."""

    args: Tuple[str, ...] = ()
    camera_file: str = ""
    camera_text: str = ""

    def write(self) -> None:
        if self.camera_text:
            write_camera_file(self.camera_file, self.camera_text)


def solve_args(output_dir: str, camera: str, samples: Sequence[CameraSample], rotation_order: str, points: str,
               position: str, normals: str) -> SolveRequest:
    """The shot-solve request of a node: ``camera`` names the host's camera ("" when none is connected) and
    ``samples`` are its frames; ``points`` is a tracked-points file (USD, .obj or CSV) the solve fits the depth to.
    The passes need the camera, and the camera needs the points."""
    passes = pass_args(position, normals)
    if not camera:
        if passes:
            raise FlashDepthError("the position / normal passes need a matchmove camera: connect one, or turn the "
                                  "passes off")
        if points.strip():
            raise FlashDepthError("tracked points need the matchmove camera they were solved with: connect it")
        return SolveRequest()
    if not points.strip():
        raise FlashDepthError(f"camera {camera}: the solve also needs the tracked points of that matchmove (scene "
                              "points: USD, .obj or CSV x,y,z)")
    check_samples(samples, camera)
    text = chan_text(samples)
    path = camera_file(output_dir, text)
    args = camera_args(path, samples, rotation_order) + ["--points", points.strip()] + passes
    return SolveRequest(tuple(args), path, text)
