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
    inverse = np.asarray(inverse, np.float32)
    with np.errstate(divide="ignore"):
        return np.where(inverse > np.float32(1.0 / far), np.float32(1.0) / inverse, np.float32(far))


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


def _one_sided(z: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The change of ``z`` to the neighbour along ``axis`` (1: x, 0: y) that is closer in depth, so it never crosses an
    occluding edge, and which side that is (+1 the next pixel, -1 the previous; at the border, the one there is)."""
    step = np.diff(z, axis=axis)  # step[i] = z[i + 1] - z[i]
    if axis == 1:
        backward, forward, first, last = step[:, :-1], step[:, 1:], step[:, :1], step[:, -1:]
    else:
        backward, forward, first, last = step[:-1], step[1:], step[:1], step[-1:]
    use_forward = np.abs(forward) <= np.abs(backward)
    change = np.concatenate([first, np.where(use_forward, forward, backward), last], axis=axis)
    side = np.concatenate([np.ones_like(first), np.where(use_forward, 1.0, -1.0).astype(z.dtype), -np.ones_like(last)],
                          axis=axis)
    return change, side


def normals_from_depth(z: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Unit normals (H, W, 3) float32, OpenCV camera axes, facing the camera, of the surface at depth ``z`` (H, W).

    The tangents are the exact differences to the neighbours closer in depth (so normals never cross an occluding
    edge): with ``P = z r``, ``r = (x, y, 1)``, ``x = (u - cx) / fx``, the step to the pixel on side ``s`` is
    ``dz r' + z e_x / fx`` with ``r'`` the neighbour's ray; their cross product is expanded per component, so the work
    is on (H, W) planes, and a plane gets its exact normal.
    """
    if min(z.shape) < 2:
        return np.zeros((*z.shape, 3), np.float32)
    z = z.astype(np.float32)
    fx, fy = np.float32(intrinsics[0, 0]), np.float32(intrinsics[1, 1])
    rays = pixel_rays(intrinsics, *z.shape)
    x, y = rays[..., 0], rays[..., 1]
    a, sx = _one_sided(z, 1)
    b, sy = _one_sided(z, 0)
    x1, y1 = x + sx / fx, y + sy / fy  # the neighbours' rays: (x1, y, 1) and (x, y1, 1)
    ab = a * b
    normals = np.empty((*z.shape, 3), np.float32)
    # (a r' + z/fx e_x) x (b r'' + z/fy e_y) with r' = (x1, y, 1), r'' = (x, y1, 1), component by component
    normals[..., 0] = -ab * sy / fy - a * z / fy
    normals[..., 1] = -ab * sx / fx - b * z / fx
    normals[..., 2] = ab * (x1 * y1 - x * y) + a * z * x1 / fy + b * z * y1 / fx + z * z / (fx * fy)
    facing_away = normals[..., 0] * x + normals[..., 1] * y + normals[..., 2] > 0
    normals[facing_away] *= -1
    normals /= np.maximum(np.sqrt(np.einsum("...i,...i->...", normals, normals)), 1e-30)[..., None]
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
