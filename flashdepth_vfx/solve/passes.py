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
    """Camera-space positions (H, W, 3) float32, OpenCV axes, of every pixel at depth ``z``."""
    return pixel_rays(intrinsics, *z.shape) * z.astype(np.float32)[..., None]


def _one_sided(points: np.ndarray, axis: int) -> np.ndarray:
    """Tangent along ``axis`` (1: x, 0: y): the difference towards the neighbour closer in depth, so tangents (and
    normals) do not cross occluding edges; at the border, the one neighbour there is."""
    step = np.diff(points, axis=axis)  # step[i] = p[i + 1] - p[i]
    tangent = np.empty_like(points)
    inner = [slice(None)] * 3
    inner[axis] = slice(1, -1)
    before = [slice(None)] * 3
    before[axis] = slice(None, -1)
    after = [slice(None)] * 3
    after[axis] = slice(1, None)
    backward, forward = step[tuple(before)], step[tuple(after)]
    use_forward = np.abs(forward[..., 2:3]) <= np.abs(backward[..., 2:3])
    tangent[tuple(inner)] = np.where(use_forward, forward, backward)
    first, last = [slice(None)] * 3, [slice(None)] * 3
    first[axis], last[axis] = slice(0, 1), slice(-1, None)
    tangent[tuple(first)] = step[tuple(first)]
    tangent[tuple(last)] = step[tuple(last)]
    return tangent


def normals_from_points(points: np.ndarray) -> np.ndarray:
    """Unit normals (H, W, 3) float32 of a position map (OpenCV camera axes), facing the camera; tangents are
    one-sided differences towards the neighbour closer in depth, so normals do not smear across occluding edges."""
    if min(points.shape[:2]) < 2:
        return np.zeros_like(points, dtype=np.float32)
    u, v = _one_sided(points, 1), _one_sided(points, 0)
    normals = np.empty_like(points, dtype=np.float32)
    normals[..., 0] = u[..., 1] * v[..., 2] - u[..., 2] * v[..., 1]
    normals[..., 1] = u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2]
    normals[..., 2] = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    length = np.sqrt(np.einsum("...i,...i->...", normals, normals))
    facing = np.einsum("...i,...i->...", normals, points)
    factor = np.where(length > 0, np.where(facing > 0, -1.0, 1.0) / np.maximum(length, 1e-30), 0.0)
    normals *= factor[..., None].astype(np.float32)
    return normals


def to_space(vectors: np.ndarray, camera_to_world: np.ndarray | None, space: str, points: bool) -> np.ndarray:
    """OpenCV camera-space ``vectors`` (H, W, 3) in the output ``space``: GL camera axes, or world (positions get the
    camera's translation, directions only its rotation). float32."""
    vectors = vectors.astype(np.float32, copy=False)
    if space == "camera" or camera_to_world is None:
        return vectors * np.array([1.0, -1.0, -1.0], np.float32)
    rotation = camera_to_world[:3, :3].astype(np.float32)
    out = np.einsum("...j,ij->...i", vectors, rotation)  # einsum: no BLAS threads for these shapes (see geometry.py)
    if points:
        out += camera_to_world[:3, 3].astype(np.float32)
    return out
