"""Vectorised ray casting of a :class:`Scene`: nearest analytic hit per pixel, Lambert + ambient shading, hard sun
shadows, distance haze and a sky gradient. Returns linear-light colour and exact z-depth.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flashdepth_vfx.data.geometry import Primitive, cast, dot

_SHADOW_OFFSET = 1e-3  # metres a shadow ray starts off its surface, so it does not hit that surface again


@dataclass(frozen=True)
class Lighting:
    """Sun (direction towards it, linear colour), ambient sky light, sky gradient colours, haze distance (metres)."""

    sun_direction: tuple[float, float, float] = (0.3, 0.8, -0.5)
    sun_colour: tuple[float, float, float] = (1.0, 0.95, 0.85)
    ambient: tuple[float, float, float] = (0.25, 0.28, 0.33)
    sky_horizon: tuple[float, float, float] = (0.75, 0.8, 0.85)
    sky_zenith: tuple[float, float, float] = (0.25, 0.4, 0.7)
    haze_distance: float = np.inf


@dataclass(frozen=True)
class Scene:
    """Primitives (possibly moving) and their lighting."""

    primitives: tuple[Primitive, ...]
    lighting: Lighting = field(default_factory=Lighting)

    def at(self, frame: float) -> Scene:
        """The scene with every moving primitive placed where it is at ``frame``."""
        return Scene(tuple(p.at(frame) for p in self.primitives), self.lighting)


def camera_rays(pose: np.ndarray, intrinsics: np.ndarray, height: int, width: int) -> np.ndarray:
    """World-space ray directions (H*W, 3) float32 through pixel centres, scaled so their camera z component is 1."""
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    xs = ((np.arange(width) + 0.5 - cx) / fx).astype(np.float32)
    ys = ((np.arange(height) + 0.5 - cy) / fy).astype(np.float32)
    right, down, forward = pose[:3, :3].T.astype(np.float32)
    rays = xs[None, :, None] * right + ys[:, None, None] * down + forward
    return rays.reshape(-1, 3)


def _screen_rect(
    primitive: Primitive, pose: np.ndarray, intrinsics: np.ndarray, height: int, width: int
) -> tuple[slice, slice]:
    """Rows and columns of the pixels whose rays can reach ``primitive`` (all of them for planes or close objects)."""
    everything = (slice(0, height), slice(0, width))
    bounds = primitive.bounds()
    if bounds is None:
        return everything
    center, radius = bounds
    x, y, z = (np.asarray(center, np.float64) - pose[:3, 3]) @ pose[:3, :3]
    if z - radius <= 1e-2:
        return everything
    depths = (z - radius, z + radius)  # x/z over the bounding box of the sphere is extreme at its corners
    xs = [(x + sx * radius) / d for sx in (-1, 1) for d in depths]
    ys = [(y + sy * radius) / d for sy in (-1, 1) for d in depths]
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    cols = int(np.clip(np.floor(cx + fx * min(xs)), 0, width)), int(np.clip(np.ceil(cx + fx * max(xs)) + 1, 0, width))
    rows = int(np.clip(np.floor(cy + fy * min(ys)), 0, height)), int(np.clip(np.ceil(cy + fy * max(ys)) + 1, 0, height))
    return slice(*rows), slice(*cols)


def _sky(directions: np.ndarray, lighting: Lighting) -> np.ndarray:
    """Sky radiance (N, 3): horizon colour blending to zenith colour with elevation."""
    elevation = directions[:, 1] / np.sqrt(np.einsum("ij,ij->i", directions, directions))
    mix = np.sqrt(np.clip(elevation, 0.0, 1.0))[:, None]
    return np.asarray(lighting.sky_horizon, np.float32) * (1 - mix) + np.asarray(lighting.sky_zenith, np.float32) * mix


def _in_shadow(points: np.ndarray, sun: np.ndarray, occluders: list[Primitive]) -> np.ndarray:
    """Which ``points`` (M, 3) see an occluder on the way towards the ``sun`` direction."""
    directions = np.broadcast_to(sun, points.shape)
    blocked = np.zeros(len(points), bool)
    for occluder in occluders:
        blocked |= np.isfinite(cast(occluder, points, directions))
    return blocked


def _nearest_hits(
    scene: Scene, pose: np.ndarray, intrinsics: np.ndarray, directions: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ray parameter of the nearest hit (N,) (inf for none) and the index of the primitive hit (N,) (-1 for none)."""
    origin = pose[:3, 3].astype(np.float32)
    nearest = np.full((height, width), np.inf, np.float32)
    hit_index = np.full((height, width), -1, np.int16)
    ray_grid = directions.reshape(height, width, 3)
    for index, primitive in enumerate(scene.primitives):
        rows, cols = _screen_rect(primitive, pose, intrinsics, height, width)
        window = ray_grid[rows, cols]
        t = primitive.intersect(origin, window.reshape(-1, 3)).reshape(window.shape[:2])
        closer = t < nearest[rows, cols]
        nearest[rows, cols][closer] = t[closer]  # basic slices are views: this writes into the full arrays
        hit_index[rows, cols][closer] = index
    return nearest.reshape(-1), hit_index.reshape(-1)


def _shade(
    scene: Scene, index: int, origin: np.ndarray, rays: np.ndarray, t: np.ndarray, pixel_angle: float, shadows: bool
) -> np.ndarray:
    """Linear radiance (M, 3) of the rays (M, 3) that hit primitive ``index`` at ray parameters ``t`` (M,)."""
    primitive, lighting = scene.primitives[index], scene.lighting
    sun = np.asarray(lighting.sun_direction, np.float64)
    sun = (sun / np.linalg.norm(sun)).astype(np.float32)
    ray_length = np.sqrt(np.einsum("ij,ij->i", rays, rays))
    points = origin + t[:, None] * rays
    normals, uv = primitive.surface(points)
    cosine = np.einsum("ij,ij->i", normals, rays) / ray_length
    normals = np.where((cosine > 0)[:, None], -normals, normals)  # shade the side facing the camera
    distance = t * ray_length
    footprint = distance * pixel_angle / np.maximum(np.abs(cosine), 0.1)
    albedo = primitive.material.albedo(uv, footprint)
    sunlit = np.clip(dot(normals, sun), 0.0, None)
    if shadows:
        lit = np.flatnonzero(sunlit > 0)
        others = [p for i, p in enumerate(scene.primitives) if i != index]  # convex: no self-shadow on a lit side
        shadowed = _in_shadow(points[lit] + _SHADOW_OFFSET * normals[lit], sun, others)
        sunlit[lit[shadowed]] = 0.0
    light = np.asarray(lighting.ambient, np.float32) + sunlit[:, None] * np.asarray(lighting.sun_colour, np.float32)
    haze = np.exp(-distance / lighting.haze_distance)[:, None]
    return albedo * light * haze + np.asarray(lighting.sky_horizon, np.float32) * (1 - haze)


def render_view(
    scene: Scene,
    pose: np.ndarray,
    intrinsics: np.ndarray,
    height: int,
    width: int,
    far: float = 80.0,
    shadows: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast one view of a static scene (use ``scene.at(frame)`` for moving ones).

    Returns linear-light colour (H, W, 3) float32 and z-depth (H, W) float32 in metres: the distance along the
    camera's optical axis to the nearest surface, ``far`` where nothing is hit, clipped to ``far``.
    """
    directions = camera_rays(pose, intrinsics, height, width)
    nearest, hit_index = _nearest_hits(scene, pose, intrinsics, directions, height, width)
    origin = pose[:3, 3].astype(np.float32)
    pixel_angle = 1.0 / float(intrinsics[0, 0])
    radiance = np.empty_like(directions)
    for index in range(-1, len(scene.primitives)):
        pixels = np.flatnonzero(hit_index == index)
        if pixels.size == 0:
            continue
        rays = directions[pixels]
        if index < 0:
            radiance[pixels] = _sky(rays, scene.lighting)
        else:
            radiance[pixels] = _shade(scene, index, origin, rays, nearest[pixels], pixel_angle, shadows)
    depth = np.minimum(nearest, np.float32(far))  # misses are inf, so they land on the far plane
    return radiance.reshape(height, width, 3), depth.reshape(height, width)
