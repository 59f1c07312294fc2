"""What a matchmove department would hand over for a procedural shot: its camera (USD, Nuke ``.chan``) and a cloud
of "tracked" 3D points, with a tracker's errors.

Tracks are sampled on surfaces seen in the shot: each is a pixel of a random frame back-projected at its exact depth
after a 2D jitter (0.5 px by default, a good track's error), so the point sits slightly off the surface. A share of
the tracks (15% by default) lands on moving objects: their point is where the object was at that frame, which
every other frame contradicts, like a track a solver was fed from a car driving through. Everything is drawn from
``seed``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flashdepth_vfx.data.procedural import SyntheticSequence
from flashdepth_vfx.data.render import _nearest_hits, camera_rays
from flashdepth_vfx.solve.cameras import GL_TO_CV, write_chan

FILMBACK_MM = 36.0
"""Horizontal aperture of exported cameras (full-frame still width); the focal length follows the plate's FOV."""


@dataclass(frozen=True)
class TrackedPoints:
    """Tracked 3D points (N, 3) in world metres; ``moving`` marks the tracks that were on moving objects."""

    positions: np.ndarray
    moving: np.ndarray


def _hits(seq: SyntheticSequence, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: z-depth (H*W,) and the index of the primitive hit (-1 for sky) at ``frame``."""
    config = seq.config
    scene, pose = seq.scene.at(frame), seq.poses[frame]
    directions = camera_rays(pose, seq.intrinsics, config.height, config.width)
    t, index = _nearest_hits(scene, pose, seq.intrinsics, directions, config.height, config.width)
    return t, index


def track_points(seq: SyntheticSequence, count: int = 200, jitter_px: float = 0.5, moving_share: float = 0.15,
                 seed: int = 0) -> TrackedPoints:
    """``count`` tracked points of the shot (see the module docstring); fewer moving ones if nothing moves."""
    rng = np.random.default_rng([seed, 21])
    moving_prims = {i for i, p in enumerate(seq.scene.primitives) if getattr(p, "motion", None) is not None}
    height, width = seq.config.height, seq.config.width
    fx, fy, cx, cy = seq.intrinsics[0, 0], seq.intrinsics[1, 1], seq.intrinsics[0, 2], seq.intrinsics[1, 2]
    wanted_moving = int(round(count * moving_share)) if moving_prims else 0
    wanted = {True: wanted_moving, False: count - wanted_moving}
    found: dict[bool, list[np.ndarray]] = {True: [], False: []}
    frames = rng.permutation(len(seq.poses))
    for attempt in range(4 * len(frames)):
        if all(len(found[k]) >= wanted[k] for k in wanted):
            break
        frame = int(frames[attempt % len(frames)])
        depth, index = _hits(seq, frame)
        surface = (index >= 0) & np.isfinite(depth) & (depth < seq.config.far)
        on_moving = np.isin(index, list(moving_prims))
        for kind in (False, True):
            need = wanted[kind] - len(found[kind])
            share = max(1, -(-need // max(1, len(frames) - attempt))) if need > 0 else 0
            pixels = np.flatnonzero(surface & (on_moving == kind))
            if share == 0 or pixels.size == 0:
                continue
            chosen = rng.choice(pixels, min(share, pixels.size), replace=False)
            v, u = np.divmod(chosen, width)
            du, dv = rng.normal(0.0, jitter_px, (2, len(chosen)))
            z = depth[chosen]
            camera = np.stack([(u + 0.5 + du - cx) / fx * z, (v + 0.5 + dv - cy) / fy * z, z], axis=1)
            pose = seq.poses[frame]
            found[kind] += list(camera @ pose[:3, :3].T + pose[:3, 3])
    static = np.asarray(found[False][: wanted[False]]).reshape(-1, 3)
    moving = np.asarray(found[True][: wanted[True]]).reshape(-1, 3)
    order = rng.permutation(len(static) + len(moving))
    positions = np.concatenate([static, moving])[order]
    flags = np.r_[np.zeros(len(static), bool), np.ones(len(moving), bool)][order]
    return TrackedPoints(positions, flags)


def vertical_fov_deg(seq: SyntheticSequence) -> float:
    """The plate's vertical field of view (degrees), as Nuke's .chan stores it."""
    return float(np.degrees(2.0 * np.arctan(seq.config.height / (2.0 * seq.intrinsics[1, 1]))))


def write_camera_chan(seq: SyntheticSequence, path: str | os.PathLike[str], first_frame: int = 1001) -> Path:
    """The shot's camera as a Nuke .chan (ZXY rotations, vertical FOV), frames from ``first_frame``.

    Read it back with the film back whose aspect is the plate's (e.g. ``36 x 36 * height / width``).
    """
    frames = list(range(first_frame, first_frame + len(seq.poses)))
    write_chan(path, frames, seq.poses, np.full(len(frames), vertical_fov_deg(seq)))
    return Path(path)


def filmback(seq: SyntheticSequence) -> tuple[float, float]:
    """The exported cameras' film back (mm): :data:`FILMBACK_MM` wide, the plate's aspect."""
    return FILMBACK_MM, FILMBACK_MM * seq.config.height / seq.config.width


def write_camera_usd(seq: SyntheticSequence, path: str | os.PathLike[str], first_frame: int = 1001,
                     points: np.ndarray | None = None, camera_path: str = "/World/camera") -> Path:
    """The shot's camera as a USD ``Camera`` (time code = frame number, Y up, metres) and, when given, the tracked
    ``points`` as a ``Points`` prim ``/World/tracks``."""
    from pxr import Gf, Sdf, Usd, UsdGeom, Vt

    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    stage.SetStartTimeCode(first_frame)
    stage.SetEndTimeCode(first_frame + len(seq.poses) - 1)
    UsdGeom.Xform.Define(stage, "/World")
    camera = UsdGeom.Camera.Define(stage, camera_path)
    h_ap, v_ap = filmback(seq)
    camera.CreateHorizontalApertureAttr(h_ap)
    camera.CreateVerticalApertureAttr(v_ap)
    camera.CreateFocalLengthAttr(float(seq.intrinsics[0, 0] / seq.config.width * h_ap))
    op = camera.AddTransformOp()
    for index, pose in enumerate(seq.poses):
        gl = pose @ GL_TO_CV
        op.Set(Gf.Matrix4d(gl.T.tolist()), Usd.TimeCode(first_frame + index))
    if points is not None:
        cloud = UsdGeom.Points.Define(stage, Sdf.Path("/World/tracks"))
        cloud.CreatePointsAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, p)) for p in points]))
    stage.GetRootLayer().Save()
    return Path(path)


def write_points_obj(points: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Tracked points as OBJ vertices (what camera trackers export)."""
    Path(path).write_text("".join(f"v {x:.9g} {y:.9g} {z:.9g}\n" for x, y, z in points), encoding="utf-8")
    return Path(path)
