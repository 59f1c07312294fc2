"""Matchmove cameras for the solve: USD (usd-core), Nuke ``.chan`` files, or bare intrinsics.

Internally a camera is sampled at the plate frames it is needed for: camera-to-world poses with OpenCV camera axes
(x right, y down, z forward, as :mod:`flashdepth_vfx.data.camera`), and a :class:`Lens` per frame. USD, Nuke and
Houdini cameras look down -Z with +Y up; the readers convert.

- **USD**: a ``UsdGeom.Camera`` prim (``--camera-prim`` when the stage holds several); its world transform
  (parents included), focal length, apertures and aperture offsets at time code ``frame + frame_offset`` (DCCs export
  time code = frame number); the stage's up axis and metres per unit are kept for the metadata.
- **.chan** (Nuke's Camera export/import): one line per frame, ``frame tx ty tz rx ry rz [vfov]``, rotations in
  degrees applied in Nuke's default order ZXY (``rotation_order``), the optional last column the *vertical* field of
  view in degrees, which with the film back gives the focal length (``focal = vaperture / (2 tan(vfov / 2))``).
  Nuke's default film back is 24.576 x 18.672 mm.
- **Intrinsics only** (a plate with no track): ``--focal`` + ``--filmback``, or ``--fov`` (horizontal, degrees).

Like Nuke and USD, the horizontal aperture spans the image width; pixels are square unless a pixel aspect is given.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flashdepth_vfx.errors import SolveError
from flashdepth_vfx.plates.sequence import compact_frames
from flashdepth_vfx.solve.defaults import NUKE_ROTATION_ORDER

NUKE_FILMBACK = (24.576, 18.672)
"""Nuke's default camera film back (horizontal, vertical aperture), millimetres."""
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])
"""Flips camera axes between GL (y up, looking down -z: USD, Nuke, Houdini) and OpenCV (y down, looking down +z)."""


@dataclass(frozen=True)
class Lens:
    """Per-frame film-back intrinsics in one length unit (millimetres by convention): arrays of shape (N,)."""

    focal: np.ndarray
    h_aperture: np.ndarray
    v_aperture: np.ndarray
    h_offset: np.ndarray
    v_offset: np.ndarray

    @classmethod
    def constant(cls, count: int, focal: float, h_aperture: float, v_aperture: float,
                 h_offset: float = 0.0, v_offset: float = 0.0) -> Lens:
        """The same lens on ``count`` frames."""
        full = lambda v: np.full(count, float(v))  # noqa: E731
        return cls(full(focal), full(h_aperture), full(v_aperture), full(h_offset), full(v_offset))

    def matrix(self, index: int, width: int, height: int, pixel_aspect: float = 1.0,
               origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """3x3 pixel intrinsics of frame ``index`` for an image ``width`` x ``height`` (the display window).

        The horizontal aperture spans ``width``; ``origin`` is the data window's corner in the display window
        (pixels, y down), so the matrix maps into data-window pixels. Pixel centres sit at half-integers.
        """
        fx = self.focal[index] / self.h_aperture[index] * width
        fy = fx * pixel_aspect
        cx = width / 2.0 + self.h_offset[index] / self.h_aperture[index] * width - origin[0]
        cy = height / 2.0 - self.v_offset[index] / self.h_aperture[index] * width * pixel_aspect - origin[1]
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Camera:
    """A camera sampled at plate ``frames``: ``poses`` (N, 4, 4) camera-to-world with OpenCV axes, or None for
    intrinsics only; ``lens`` per frame; the scene's up axis and metres per unit (as the source declares them)."""

    frames: tuple[int, ...]
    lens: Lens
    poses: np.ndarray | None
    source: str
    up_axis: str = "Y"
    meters_per_unit: float = 1.0

    def index(self, frame: int) -> int:
        """Position of plate ``frame`` in this camera's samples."""
        try:
            return self.frames.index(frame)
        except ValueError:
            raise SolveError(f"{self.source} has no sample for frame {frame}") from None

    def world_to_camera(self, frame: int) -> np.ndarray:
        """World-to-camera matrix (4, 4), OpenCV camera axes."""
        if self.poses is None:
            raise SolveError(f"{self.source} has intrinsics only; tracked points need a camera track (USD or .chan)")
        return np.linalg.inv(self.poses[self.index(frame)])


def _check_coverage(source: str, needed: list[int], covered: tuple[float, float], offset: float) -> None:
    """One-line error when the camera's animated range does not cover the plate frames."""
    lo, hi = covered
    outside = [f for f in needed if not lo - 1e-6 <= f + offset <= hi + 1e-6]
    if outside:
        shift = int(round(lo - needed[0]))
        hint = "" if offset or not shift else f"; if its time codes are not frame numbers pass --frame-offset {shift}"
        raise SolveError(
            f"{source}: the camera is animated over {lo:g}-{hi:g} (time code) but the shot needs frames "
            f"{compact_frames(needed)}{f' (+ offset {offset:g})' if offset else ''}; frames {compact_frames(outside)} "
            f"are outside it{hint}"
        )


# ----------------------------------------------------------------------------------------------------------- USD


def open_stage(path: Path):  # noqa: ANN201 - pxr types
    """Open a USD stage; a one-line SolveError when usd-core is missing or the file is not USD."""
    try:
        from pxr import Usd
    except ImportError as exc:  # pragma: no cover - the solve extra is a dependency of the tests
        raise SolveError(f"reading USD needs usd-core: pip install 'flashdepth-vfx[solve]' ({exc})") from None
    if not path.is_file():
        raise SolveError(f"{path} does not exist; check the path")
    try:
        stage = Usd.Stage.Open(str(path))
    except Exception as exc:  # noqa: BLE001 - pxr raises Tf.ErrorException with a multi-line text
        raise SolveError(f"Cannot open {path} as USD: {str(exc).strip().splitlines()[-1]}") from None
    if stage is None:
        raise SolveError(f"Cannot open {path} as USD; check it is a .usd/.usda/.usdc/.usdz file")
    return stage


def _find_camera_prim(stage, path: Path, prim_path: str | None):  # noqa: ANN001, ANN202 - pxr types
    from pxr import UsdGeom

    cameras = [p for p in stage.Traverse() if p.IsA(UsdGeom.Camera)]
    if prim_path is not None:
        prim = stage.GetPrimAtPath(prim_path)
        if not prim or not prim.IsA(UsdGeom.Camera):
            names = ", ".join(str(p.GetPath()) for p in cameras) or "none"
            raise SolveError(f"{path}: {prim_path} is not a camera prim (cameras: {names}); check --camera-prim")
        return prim
    if not cameras:
        raise SolveError(f"{path} holds no UsdGeom.Camera prim; export the matchmove camera into it")
    if len(cameras) > 1:
        names = ", ".join(str(p.GetPath()) for p in cameras)
        raise SolveError(f"{path} holds {len(cameras)} cameras ({names}); pick one with --camera-prim")
    return cameras[0]


def _animated_range(prim) -> tuple[float, float] | None:  # noqa: ANN001 - pxr type
    """First and last time sample of the prim's and its ancestors' attributes; None when nothing is animated."""
    times: list[float] = []
    while prim and not prim.IsPseudoRoot():
        for attribute in prim.GetAttributes():
            samples = attribute.GetTimeSamples()
            if samples:
                times += [samples[0], samples[-1]]
        prim = prim.GetParent()
    return (min(times), max(times)) if times else None


def _authored(camera) -> bool:  # noqa: ANN001 - pxr type
    """Whether the camera prim has a lens attribute, or it or an ancestor a transform, authored."""
    from pxr import UsdGeom

    lens = ("focalLength", "horizontalAperture", "verticalAperture")
    if any(camera.GetAttribute(name).HasAuthoredValue() for name in lens):
        return True
    prim = camera
    while prim and not prim.IsPseudoRoot():
        if prim.IsA(UsdGeom.Xformable) and UsdGeom.Xformable(prim).GetOrderedXformOps():
            return True
        prim = prim.GetParent()
    return False


def read_usd_camera(path: str | os.PathLike[str], frames: list[int], prim_path: str | None = None,
                    frame_offset: float = 0.0) -> Camera:
    """Sample the USD camera at plate ``frames`` (time code ``frame + frame_offset``)."""
    from pxr import Usd, UsdGeom

    file = Path(path)
    stage = open_stage(file)
    prim = _find_camera_prim(stage, file, prim_path)
    if not _authored(prim):
        raise SolveError(f"{file}: {prim.GetPath()} has no transform and no lens authored (USD would make it a "
                         "static 50 mm camera at the origin): export the matchmove camera into it")
    animated = _animated_range(prim)
    if animated is not None:
        _check_coverage(f"{file} ({prim.GetPath()})", frames, animated, frame_offset)
    camera = UsdGeom.Camera(prim)
    poses, lens = [], []
    for frame in frames:
        gf = camera.GetCamera(Usd.TimeCode(frame + frame_offset))
        world_from_gl = np.array(gf.transform, dtype=np.float64).T  # Gf matrices act on row vectors
        poses.append(world_from_gl @ GL_TO_CV)
        lens.append((gf.focalLength, gf.horizontalAperture, gf.verticalAperture,
                     gf.horizontalApertureOffset, gf.verticalApertureOffset))
        if gf.projection != gf.Perspective:
            raise SolveError(f"{file}: {prim.GetPath()} is an orthographic camera; the solve needs a perspective one")
    values = np.asarray(lens, np.float64)
    if np.any(values[:, 0] <= 0) or np.any(values[:, 1] <= 0):
        raise SolveError(f"{file}: {prim.GetPath()} has a zero focal length or aperture; fix the camera export")
    return Camera(
        frames=tuple(frames), lens=Lens(*values.T), poses=np.stack(poses), source=f"{file.name} {prim.GetPath()}",
        up_axis=str(UsdGeom.GetStageUpAxis(stage)), meters_per_unit=float(UsdGeom.GetStageMetersPerUnit(stage)),
    )


# -------------------------------------------------------------------------------------------------------- .chan


def euler_matrix(degrees: tuple[float, float, float], order: str = NUKE_ROTATION_ORDER) -> np.ndarray:
    """3x3 rotation from Euler angles (rx, ry, rz) in degrees, the axis named first in ``order`` applied first."""
    rx, ry, rz = np.radians(degrees)
    c, s = np.cos, np.sin
    axes = {
        "X": np.array([[1, 0, 0], [0, c(rx), -s(rx)], [0, s(rx), c(rx)]]),
        "Y": np.array([[c(ry), 0, s(ry)], [0, 1, 0], [-s(ry), 0, c(ry)]]),
        "Z": np.array([[c(rz), -s(rz), 0], [s(rz), c(rz), 0], [0, 0, 1]]),
    }
    rotation = np.eye(3)
    for axis in order.upper():
        rotation = axes[axis] @ rotation
    return rotation


def euler_angles(rotation: np.ndarray, order: str = NUKE_ROTATION_ORDER) -> tuple[float, float, float]:
    """Euler angles (rx, ry, rz) in degrees with ``euler_matrix(angles, order) == rotation`` (for writing .chan)."""
    if order.upper() != NUKE_ROTATION_ORDER:
        raise ValueError("only Nuke's default ZXY order is written")
    # R = Ry Rx Rz: R[1, 2] = -sin(rx); R[0, 2] = sin(ry) cos(rx); R[2, 2] = cos(ry) cos(rx);
    # R[1, 0] = cos(rx) sin(rz); R[1, 1] = cos(rx) cos(rz)
    rx = math.asin(float(np.clip(-rotation[1, 2], -1.0, 1.0)))
    ry = math.atan2(rotation[0, 2], rotation[2, 2])
    rz = math.atan2(rotation[1, 0], rotation[1, 1])
    return math.degrees(rx), math.degrees(ry), math.degrees(rz)


def read_chan(path: str | os.PathLike[str], frames: list[int], frame_offset: float = 0.0,
              focal: float | None = None, filmback: tuple[float, float] | None = None,
              rotation_order: str = NUKE_ROTATION_ORDER) -> Camera:
    """Read a Nuke ``.chan`` camera at plate ``frames`` (the file's frame ``frame + frame_offset``).

    ``focal`` (mm) overrides the file's vertical FOV column; ``filmback`` (h, v mm) defaults to Nuke's.
    """
    file = Path(path)
    if sorted(rotation_order.upper()) != ["X", "Y", "Z"]:
        raise SolveError(f"Bad rotation order {rotation_order!r}: use three letters like ZXY or XYZ")
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SolveError(f"Cannot read {file}: {exc.strerror}") from None
    rows: dict[float, list[float]] = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            values = [float(v) for v in text.replace(",", " ").split()]
        except ValueError:
            raise SolveError(f"{file} line {number}: not numbers ({line.strip()[:40]!r}); a .chan line is "
                             "'frame tx ty tz rx ry rz [vfov]'") from None
        if len(values) not in (7, 8):
            raise SolveError(f"{file} line {number}: {len(values)} columns; a .chan line is "
                             "'frame tx ty tz rx ry rz [vfov]'")
        if not all(math.isfinite(v) for v in values):
            raise SolveError(f"{file} line {number}: {line.strip()[:60]!r} is not a camera (nan or inf, as a frame the "
                             "matchmove did not solve exports it); solve or delete that frame and export again")
        rows[values[0]] = values[1:]
    if not rows:
        raise SolveError(f"{file} holds no camera lines; export the camera from Nuke (Camera > File > Export chan)")
    keys = sorted(rows)
    _check_coverage(file.name, frames, (keys[0], keys[-1]), frame_offset)
    missing = [f for f in frames if f + frame_offset not in rows]
    if missing:
        raise SolveError(f"{file.name} has no line for frames {compact_frames(missing)}; export every frame")
    h_ap, v_ap = filmback or NUKE_FILMBACK
    poses, focals = [], []
    for frame in frames:
        row = rows[frame + frame_offset]
        pose = np.eye(4)
        pose[:3, :3] = euler_matrix((row[3], row[4], row[5]), rotation_order)
        pose[:3, 3] = row[:3]
        poses.append(pose @ GL_TO_CV)
        if focal is not None:
            focals.append(focal)
        elif len(row) == 7:
            vfov = math.radians(row[6])
            if not 0 < vfov < math.pi:
                raise SolveError(f"{file.name} frame {frame}: vertical FOV {row[6]:g} degrees is not a lens")
            focals.append(v_ap / (2.0 * math.tan(vfov / 2.0)))
        else:
            raise SolveError(f"{file.name} has no field-of-view column; give the lens with --focal (and --filmback)")
    lens = Lens(np.asarray(focals, float), np.full(len(frames), h_ap), np.full(len(frames), v_ap),
                np.zeros(len(frames)), np.zeros(len(frames)))
    return Camera(tuple(frames), lens, np.stack(poses), file.name)


def write_chan(path: str | os.PathLike[str], frames: list[int], poses: np.ndarray, vfov_deg: np.ndarray) -> None:
    """Write a Nuke ``.chan`` (ZXY rotations, vertical FOV column) from camera-to-world poses with OpenCV axes."""
    lines = []
    for frame, pose, vfov in zip(frames, poses, vfov_deg):
        gl = pose @ GL_TO_CV
        rx, ry, rz = euler_angles(gl[:3, :3])
        tx, ty, tz = gl[:3, 3]
        lines.append(f"{frame} {tx:.9g} {ty:.9g} {tz:.9g} {rx:.9g} {ry:.9g} {rz:.9g} {float(vfov):.9g}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------- intrinsics


def intrinsics_camera(frames: list[int], focal: float | None = None, filmback: tuple[float, float] | None = None,
                      fov: float | None = None) -> Camera:
    """A lens with no track: ``focal`` (mm) on ``filmback`` (h, v mm; Nuke's default), or a horizontal ``fov``."""
    if fov is not None:
        if focal is not None:
            raise SolveError("Give the lens as --focal (with --filmback) or as --fov, not both")
        if not 0 < fov < 180:
            raise SolveError(f"--fov {fov:g}: a horizontal field of view is between 0 and 180 degrees")
        h_ap = 1.0
        lens = Lens.constant(len(frames), h_ap / (2.0 * math.tan(math.radians(fov) / 2.0)), h_ap, h_ap)
        return Camera(tuple(frames), lens, None, f"--fov {fov:g}")
    if focal is None or focal <= 0:
        raise SolveError("The lens needs --focal (mm, with --filmback) or --fov (degrees)")
    h_ap, v_ap = filmback or NUKE_FILMBACK
    return Camera(tuple(frames), Lens.constant(len(frames), focal, h_ap, v_ap), None, f"--focal {focal:g}")


def parse_filmback(text: str | None) -> tuple[float, float] | None:
    """``"36x24"`` or ``"36"`` (mm) -> (h, v); a lone width keeps Nuke's default aspect."""
    if text is None:
        return None
    try:
        parts = [float(v) for v in text.lower().split("x")]
    except ValueError:
        raise SolveError(f"Bad --filmback {text!r}: write it as WIDTHxHEIGHT in mm, e.g. 36x24") from None
    if len(parts) == 1:
        parts.append(parts[0] * NUKE_FILMBACK[1] / NUKE_FILMBACK[0])
    if len(parts) != 2 or min(parts) <= 0:
        raise SolveError(f"Bad --filmback {text!r}: write it as WIDTHxHEIGHT in mm, e.g. 36x24")
    return parts[0], parts[1]


USD_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")


def load_camera(path: str | os.PathLike[str] | None, frames: list[int], *, prim_path: str | None = None,
                frame_offset: float = 0.0, focal: float | None = None, filmback: tuple[float, float] | None = None,
                fov: float | None = None, rotation_order: str = NUKE_ROTATION_ORDER) -> Camera | None:
    """The camera for ``frames`` from a USD or .chan file, or from the intrinsics options; None when none given.

    With a USD camera, ``focal`` / ``filmback`` / ``fov`` override its lens.
    """
    if path is None:
        if focal is None and fov is None:
            return None
        return intrinsics_camera(frames, focal, filmback, fov)
    suffix = Path(path).suffix.lower()
    if suffix in USD_SUFFIXES:
        camera = read_usd_camera(path, frames, prim_path, frame_offset)
        if focal is not None or fov is not None:
            camera = Camera(camera.frames, intrinsics_camera(frames, focal, filmback, fov).lens, camera.poses,
                            camera.source, camera.up_axis, camera.meters_per_unit)
        return camera
    if suffix == ".chan":
        if fov is not None:
            focal = (filmback or NUKE_FILMBACK)[0] / (2.0 * math.tan(math.radians(fov) / 2.0))
        return read_chan(path, frames, frame_offset, focal, filmback, rotation_order)
    raise SolveError(f"{path}: unknown camera file type; use USD ({', '.join(USD_SUFFIXES)}) or a Nuke .chan")
