"""Analytic primitives (bounded plane, sphere, yawed box) with vectorised ray intersection.

Rays are ``origin + t * direction``; ``origin`` is (3,) or (N, 3) and ``direction`` (N, 3), not necessarily unit length.
``intersect`` returns the smallest ``t > EPS`` per ray, ``inf`` where the ray misses. The renderer passes camera rays
whose camera-space z component is 1, so ``t`` is directly the z-depth.

World axes: y is up, the ground is the plane y = 0.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import numpy as np

from flashdepth_vfx.data.textures import Material

EPS = 1e-4
Vec3 = tuple[float, float, float]


# Products of (N, 3) arrays with small vectors and matrices go through einsum rather than ``@``: for these shapes
# OpenBLAS's threads cost more than they save, up to twice the render time when the CPU is shared.


def _rotate(vectors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``vectors @ matrix`` for (N, 3) or (3,) vectors."""
    return np.einsum("...j,jk->...k", vectors, matrix)


def dot(vectors: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``vectors @ vector``: (N, 3) or (3,) against (3,)."""
    return np.einsum("...j,j->...", vectors, vector)


def _rowwise_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-by-row dot products of ``a`` (N, 3) or (3,) with ``b`` (N, 3)."""
    return np.einsum("ij,ij->i", a, b) if a.ndim == 2 else dot(b, a)


def _unit(v: Vec3 | np.ndarray) -> np.ndarray:
    a = np.asarray(v, np.float64)
    return a / np.linalg.norm(a)


@dataclass(frozen=True)
class Motion:
    """Smooth periodic motion of an object.

    At frame ``f`` the object is offset by ``amplitude * sin(2*pi*f/period + phase)`` metres and turned about the
    vertical axis by ``yaw_rate * f`` radians.
    """

    amplitude: Vec3 = (0.0, 0.0, 0.0)
    period: float = 60.0
    phase: float = 0.0
    yaw_rate: float = 0.0

    def offset(self, frame: float) -> np.ndarray:
        """World-space displacement (3,) at ``frame``."""
        return np.asarray(self.amplitude) * np.sin(2.0 * np.pi * frame / self.period + self.phase)


@dataclass(frozen=True)
class Plane:
    """A plane through ``point`` with ``normal``; bounded to ``|u| <= half_extent[0]``, ``|v| <= half_extent[1]``.

    ``u_axis`` (in the plane) and ``v = normal x u_axis`` give the texture coordinates, in metres from ``point``.
    """

    point: Vec3
    normal: Vec3
    u_axis: Vec3
    material: Material
    half_extent: tuple[float, float] = (np.inf, np.inf)

    def at(self, frame: float) -> Plane:
        """Planes do not move."""
        return self

    def _axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = _unit(self.normal)
        u = _unit(self.u_axis)
        return n, u, np.cross(n, u)

    def bounds(self) -> None:
        """Planes may be unbounded: no bounding sphere."""
        return None

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Ray parameter of the hit (N,), ``inf`` on a miss."""
        n, u_axis, v_axis = self._axes()
        n32 = n.astype(np.float32)
        offset = np.asarray(self.point, np.float32) - origins
        with np.errstate(divide="ignore", invalid="ignore"):
            t = dot(offset, n32) / dot(directions, n32)
        t = np.where(t > EPS, t, np.inf).astype(np.float32)
        for axis, half in zip((u_axis, v_axis), self.half_extent):
            if np.isfinite(half):  # in-plane coordinate of the hit: (origin - point) . axis + t * (direction . axis)
                axis32 = axis.astype(np.float32)
                with np.errstate(invalid="ignore"):  # misses: inf * 0 gives nan, which fails the test as it should
                    coordinate = -dot(offset, axis32) + t * dot(directions, axis32)
                t = np.where(np.abs(coordinate) <= half, t, np.inf).astype(np.float32)
        return t

    def surface(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outward normals (M, 3) and texture coordinates (M, 2) at hit ``points`` (M, 3)."""
        n, u_axis, v_axis = self._axes()
        local = points - np.asarray(self.point, np.float32)
        uv = np.stack([dot(local, u_axis.astype(np.float32)), dot(local, v_axis.astype(np.float32))], axis=1)
        return np.broadcast_to(n.astype(np.float32), points.shape), uv


@dataclass(frozen=True)
class Sphere:
    """A sphere; its texture coordinates are longitude/latitude scaled to metres on the surface."""

    center: Vec3
    radius: float
    material: Material
    motion: Motion | None = None

    def at(self, frame: float) -> Sphere:
        """The sphere where its motion puts it at ``frame``."""
        if self.motion is None:
            return self
        return replace(self, center=tuple(np.asarray(self.center) + self.motion.offset(frame)), motion=None)

    def bounds(self) -> tuple[np.ndarray, float]:
        """Bounding sphere (center, radius): the sphere itself."""
        return np.asarray(self.center, np.float32), float(self.radius)

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Ray parameter of the nearest hit in front of the origin (N,), ``inf`` on a miss."""
        length = np.linalg.norm(directions, axis=1)
        unit = directions / length[:, None]
        to_center = np.asarray(self.center, np.float32) - origins
        along = _rowwise_dot(to_center, unit)
        closest = origins + along[:, None] * unit - np.asarray(self.center, np.float32)
        half_chord_sq = self.radius**2 - np.einsum("ij,ij->i", closest, closest)
        half_chord = np.sqrt(np.maximum(half_chord_sq, 0.0))
        near, far = along - half_chord, along + half_chord
        distance = np.where(near > EPS, near, np.where(far > EPS, far, np.inf))
        distance = np.where(half_chord_sq >= 0.0, distance, np.inf)
        return (distance / length).astype(np.float32)

    def surface(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outward normals (M, 3) and longitude/latitude texture coordinates in metres (M, 2)."""
        normals = (points - np.asarray(self.center, np.float32)) / np.float32(self.radius)
        longitude = np.arctan2(normals[:, 0], -normals[:, 2])  # the seam (+-pi) faces +z, away from the camera
        latitude = np.arcsin(np.clip(normals[:, 1], -1.0, 1.0))
        uv = np.stack([longitude, latitude], axis=1) * np.float32(self.radius)
        return normals, uv


@dataclass(frozen=True)
class Box:
    """A box with ``half_size`` along its local axes, turned by ``yaw`` radians about the vertical axis."""

    center: Vec3
    half_size: Vec3
    material: Material
    yaw: float = 0.0
    motion: Motion | None = None

    def at(self, frame: float) -> Box:
        """The box where its motion puts (and turns) it at ``frame``."""
        if self.motion is None:
            return self
        return replace(
            self,
            center=tuple(np.asarray(self.center) + self.motion.offset(frame)),
            yaw=self.yaw + self.motion.yaw_rate * frame,
            motion=None,
        )

    def _rotation(self) -> np.ndarray:
        """World-from-local rotation; local = (world - center) @ R."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], np.float32)

    def bounds(self) -> tuple[np.ndarray, float]:
        """Bounding sphere (center, radius)."""
        return np.asarray(self.center, np.float32), float(np.linalg.norm(self.half_size))

    def intersect(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Slab test in the box frame: ray parameter of the nearest hit (N,), ``inf`` on a miss."""
        rotation = self._rotation()
        local_origin = _rotate(origins - np.asarray(self.center, np.float32), rotation)
        local_dir = _rotate(directions, rotation)
        t_enter = np.full(len(directions), -np.inf, np.float32)
        t_exit = np.full(len(directions), np.inf, np.float32)
        # rays parallel to a slab give inf, or nan, which fmin/fmax ignore
        with np.errstate(divide="ignore", invalid="ignore"):
            for axis, half in enumerate(self.half_size):
                start = local_origin[..., axis]
                inverse = 1.0 / local_dir[:, axis]
                near, far = (-half - start) * inverse, (half - start) * inverse
                t_enter = np.fmax(t_enter, np.fmin(near, far))
                t_exit = np.fmin(t_exit, np.fmax(near, far))
        t = np.where(t_enter > EPS, t_enter, t_exit)
        return np.where((t_exit >= t_enter) & (t > EPS), t, np.inf).astype(np.float32)

    def surface(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outward face normals (M, 3) and face texture coordinates in metres (M, 2), attached to the box."""
        rotation = self._rotation()
        local = _rotate(points - np.asarray(self.center, np.float32), rotation)
        half = np.asarray(self.half_size, np.float32)
        axis = np.argmax(np.abs(local) / half, axis=1)[:, None]
        along_axis = np.take_along_axis(local, axis, axis=1)
        local_normals = np.where(np.arange(3) == axis, np.sign(along_axis), np.float32(0.0))
        # the two in-face coordinates: (z, y) on x faces, (x, z) on y faces, (x, y) on z faces
        in_face = np.array([[2, 1], [0, 2], [0, 1]])[axis[:, 0]]
        uv = np.take_along_axis(local, in_face, axis=1)
        return _rotate(local_normals, rotation.T), uv


Primitive = Union[Plane, Sphere, Box]


def cast(primitive: Primitive, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``primitive.intersect`` computed only for rays that pass through its bounding sphere (same result, faster)."""
    bounds = primitive.bounds()
    if bounds is None:
        return primitive.intersect(origins, directions)
    center, radius = bounds
    radius = radius * 1.01 + 1e-3  # a little slack for float32 rounding in the test below
    to_center = center - origins
    along = _rowwise_dot(to_center, directions)
    length_sq = np.einsum("ij,ij->i", directions, directions)
    center_sq = _rowwise_dot(to_center, to_center)
    # squared distance from the centre to the ray's line, times |direction|^2, against radius^2 * |direction|^2
    near_line = center_sq * length_sq - along * along <= radius * radius * length_sq
    candidates = np.flatnonzero(near_line & ((along > 0) | (center_sq <= radius * radius)))
    t = np.full(len(directions), np.inf, np.float32)
    if candidates.size:
        start = origins[candidates] if origins.ndim == 2 else origins
        t[candidates] = primitive.intersect(start, directions[candidates])
    return t
