"""Where the scene references land in a disparity frame: (disparity, true inverse depth) pairs for the fit.

Tracked points are projected through the camera (points behind it or outside the frame are ignored); anchors are
read at their pixel. The disparity is sampled bilinearly at the (sub-pixel) position, pixel centres at half-integers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flashdepth_vfx.solve.points import Anchors

MIN_DEPTH = 1e-6
"""Camera-space depth (scene units) a point must exceed to count as in front of the camera."""


@dataclass(frozen=True)
class Observations:
    """One frame's pairs: sampled ``disparity`` (n,) and the reference ``inverse_depth`` (n,) = 1 / camera-space Z."""

    disparity: np.ndarray
    inverse_depth: np.ndarray
    behind: int = 0  # points behind the camera in this frame

    @classmethod
    def empty(cls, behind: int = 0) -> Observations:
        """No pairs."""
        return cls(np.zeros(0), np.zeros(0), behind)

    def __len__(self) -> int:
        return len(self.disparity)

    def __add__(self, other: Observations) -> Observations:
        return Observations(np.r_[self.disparity, other.disparity], np.r_[self.inverse_depth, other.inverse_depth],
                            self.behind + other.behind)


def project(points: np.ndarray, world_to_camera: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (N, 2) and camera-space depths (N,) of world ``points`` (N, 3); OpenCV camera axes."""
    camera = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    z = camera[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = camera[:, :2] / z[:, None] * np.diag(intrinsics)[:2] + intrinsics[:2, 2]
    return uv, z


def sample_bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples (N,) of ``image`` (H, W) at pixel positions ``uv`` (N, 2); positions must be inside."""
    height, width = image.shape
    x = np.clip(uv[:, 0] - 0.5, 0.0, width - 1.0)
    y = np.clip(uv[:, 1] - 0.5, 0.0, height - 1.0)
    x0 = np.minimum(np.floor(x).astype(int), width - 2) if width > 1 else np.zeros(len(x), int)
    y0 = np.minimum(np.floor(y).astype(int), height - 2) if height > 1 else np.zeros(len(y), int)
    fx, fy = x - x0, y - y0
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def inside_image(uv: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which pixel positions (N, 2) are finite and inside a ``height`` x ``width`` image."""
    return np.all(np.isfinite(uv), axis=1) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)


def point_observations(points: np.ndarray, world_to_camera: np.ndarray, intrinsics: np.ndarray,
                       disparity: np.ndarray) -> Observations:
    """The visible tracked points of one frame: in front of the camera and inside the frame."""
    uv, z = project(points, world_to_camera, intrinsics)
    front = z > MIN_DEPTH
    keep = front & inside_image(uv, *disparity.shape)
    samples = sample_bilinear(disparity, uv[keep])
    finite = np.isfinite(samples)
    return Observations(samples[finite], 1.0 / z[keep][finite], int(np.count_nonzero(~front)))


def ray_length(xy: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Length (N,) of the ray through pixel positions ``xy`` (N, 2) per unit of camera-space depth."""
    offsets = (xy - intrinsics[:2, 2]) / np.diag(intrinsics)[:2]
    return np.sqrt(1.0 + np.sum(offsets**2, axis=1))


def anchor_observations(anchors: Anchors, frame: int, disparity: np.ndarray,
                        intrinsics: np.ndarray | None) -> Observations:
    """The anchors of plate ``frame`` inside the image (distances turned into depth through ``intrinsics``)."""
    rows = anchors.frames == frame
    if not rows.any():
        return Observations.empty()
    xy, values = anchors.xy[rows], anchors.values[rows]
    keep = inside_image(xy, *disparity.shape)
    xy, values = xy[keep], values[keep]
    if anchors.kind == "distance":
        assert intrinsics is not None, "distance anchors need a lens (checked by the caller)"
        values = values / ray_length(xy, intrinsics)
    samples = sample_bilinear(disparity, xy)
    finite = np.isfinite(samples)
    return Observations(samples[finite], 1.0 / values[finite])
