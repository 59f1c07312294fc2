"""Output passes from solved inverse depth: depth (camera-space Z, distance along the ray, or 1/Z), position P and
normals N.

Channel names are the layers Nuke (PositionToPoints, Relight: the ``P`` / ``N`` layers, read from EXR ``P.R P.G P.B``
as red/green/blue) and Houdini (planes ``P`` and ``N``) pick up. Camera space is the GL/USD/Nuke/Houdini camera
convention: x right, y up, the camera looking down -z. World space is the camera file's (with its up axis).
"""
from __future__ import annotations

import numpy as np

DEPTH_MODES = ("depth", "distance", "inverse")
"""depth: camera-space Z (like a CG render's Z); distance: along the ray; inverse: 1/Z (Nuke's far = 0, ScanlineRender)."""
SPACES = ("world", "camera")
P_CHANNELS = ("P.R", "P.G", "P.B")
N_CHANNELS = ("N.R", "N.G", "N.B")
CV_TO_GL = np.diag([1.0, -1.0, -1.0])


def depth_from_inverse(inverse: np.ndarray, far: float) -> np.ndarray:
    """Camera-space Z from inverse depth; ``far`` where the inverse depth is below ``1 / far`` (sky, or behind)."""
    with np.errstate(divide="ignore"):
        return np.where(inverse > 1.0 / far, 1.0 / inverse, far).astype(np.float32)


def pixel_rays(intrinsics: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera-space (OpenCV axes) rays (H, W, 3) through pixel centres with z = 1."""
    xs = (np.arange(width) + 0.5 - intrinsics[0, 2]) / intrinsics[0, 0]
    ys = (np.arange(height) + 0.5 - intrinsics[1, 2]) / intrinsics[1, 1]
    rays = np.empty((height, width, 3), np.float32)
    rays[..., 0] = xs[None, :]
    rays[..., 1] = ys[:, None]
    rays[..., 2] = 1.0
    return rays


def depth_channel(z: np.ndarray, mode: str, intrinsics: np.ndarray | None) -> np.ndarray:
    """The depth pass in ``mode`` from camera-space Z (H, W)."""
    if mode == "depth":
        return z.astype(np.float32)
    if mode == "inverse":
        return (1.0 / z).astype(np.float32)
    if mode == "distance":
        assert intrinsics is not None, "distance needs the lens (checked by the caller)"
        rays = pixel_rays(intrinsics, *z.shape)
        return (z * np.sqrt(np.sum(rays**2, axis=-1))).astype(np.float32)
    raise ValueError(f"unknown depth mode {mode!r}")


def camera_points(z: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Camera-space positions (H, W, 3), OpenCV axes, of every pixel at depth ``z``."""
    return pixel_rays(intrinsics, *z.shape) * z[..., None]


def normals_from_points(points: np.ndarray) -> np.ndarray:
    """Unit normals (H, W, 3) of a position map (OpenCV camera axes), facing the camera.

    Tangents are one-sided differences, towards whichever neighbour is closer in depth, so normals do not smear
    across occluding edges.
    """
    def tangent(axis: int) -> np.ndarray:
        forward = np.diff(points, axis=axis, append=np.take(points, [-1], axis=axis))
        backward = np.diff(points, axis=axis, prepend=np.take(points, [0], axis=axis))
        use_forward = np.abs(forward[..., 2]) <= np.abs(backward[..., 2])
        edge = np.zeros(points.shape[:2], bool)  # at the border only one side exists
        index = [slice(None)] * 2
        index[axis] = -1
        edge[tuple(index)] = True
        use_forward &= ~edge
        index[axis] = 0
        start = np.zeros_like(edge)
        start[tuple(index)] = True
        use_forward |= start
        return np.where(use_forward[..., None], forward, backward)

    normals = np.cross(tangent(1), tangent(0))
    length = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
    facing_away = np.sum(normals * points, axis=-1) > 0
    normals[facing_away] *= -1
    return normals.astype(np.float32)


def to_space(vectors: np.ndarray, camera_to_world: np.ndarray | None, space: str, points: bool) -> np.ndarray:
    """OpenCV camera-space ``vectors`` (H, W, 3) in the output ``space``: GL camera axes, or world (positions get the
    camera's translation, directions only its rotation)."""
    if space == "camera" or camera_to_world is None:
        return (vectors @ CV_TO_GL).astype(np.float32)
    out = vectors @ camera_to_world[:3, :3].T
    if points:
        out = out + camera_to_world[:3, 3]
    return out.astype(np.float32)
