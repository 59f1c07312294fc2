"""Procedural surface textures (checker, stripes, value noise) evaluated on surface coordinates in metres.

Every pattern is band-limited by the pixel footprint: detail finer than a pixel fades to its mean, so distant
surfaces do not shimmer from frame to frame (a cheap stand-in for mip-mapping).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PATTERNS = ("checker", "stripes", "noise")

_DETAIL_AMPLITUDE = 0.15  # brightness variation of the fine noise laid over every material
_DETAIL_FREQUENCY = 4.0   # detail frequency, relative to the material's own frequency


def _lattice_hash(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) for each integer lattice point (vectorised integer hash)."""
    with np.errstate(over="ignore"):
        h = ix.astype(np.uint32) * np.uint32(0x8DA6B343)
        h ^= iy.astype(np.uint32) * np.uint32(0xD8163841)
        h ^= np.uint32((seed * 0x9E3779B1) & 0xFFFFFFFF)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0x5BD1E995)
        h ^= h >> np.uint32(15)
    return (h >> np.uint32(8)).astype(np.float32) / np.float32(1 << 24)


def value_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """Smoothly interpolated lattice noise in [0, 1] with one lattice cell per unit of (u, v)."""
    fu, fv = np.floor(u), np.floor(v)
    iu, iv = fu.astype(np.int64), fv.astype(np.int64)
    su, sv = u - fu, v - fv
    su = su * su * (3.0 - 2.0 * su)
    sv = sv * sv * (3.0 - 2.0 * sv)
    top = _lattice_hash(iu, iv, seed) * (1 - su) + _lattice_hash(iu + 1, iv, seed) * su
    bottom = _lattice_hash(iu, iv + 1, seed) * (1 - su) + _lattice_hash(iu + 1, iv + 1, seed) * su
    return top * (1 - sv) + bottom * sv


def _band_limit(footprint: np.ndarray, frequency: float) -> np.ndarray:
    """Contrast kept for a pattern of ``frequency`` cycles/metre seen through a pixel ``footprint`` metres wide."""
    x = 2.0 * footprint * frequency
    return np.exp(-x * x)


@dataclass(frozen=True)
class Material:
    """A linear-light albedo pattern: ``base`` where the pattern is 0, ``accent`` where it is 1.

    ``frequency`` is in cycles per metre of surface; ``angle`` (radians) orients stripes; ``seed`` picks the noise.
    """

    base: tuple[float, float, float]
    accent: tuple[float, float, float]
    pattern: str = "checker"
    frequency: float = 1.0
    angle: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}; expected one of {PATTERNS}")

    def _pattern(self, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        f = self.frequency
        if self.pattern == "checker":
            value = ((np.floor(u * f) + np.floor(v * f)) % 2.0).astype(np.float32)
        elif self.pattern == "stripes":
            along = u * np.cos(self.angle) + v * np.sin(self.angle)
            value = 0.5 + 0.5 * np.sin(2.0 * np.pi * f * along)
        else:  # fractal value noise, three octaves
            value = np.zeros_like(u)
            for octave, weight in enumerate((0.55, 0.3, 0.15)):
                fo = f * 2.0**octave
                octave_value = value_noise(u * fo, v * fo, self.seed + octave) - 0.5
                value = value + weight * octave_value * _band_limit(footprint, fo)
            return np.clip(0.5 + 1.6 * value, 0.0, 1.0)
        return 0.5 + (value - 0.5) * _band_limit(footprint, f)

    def albedo(self, uv: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Linear albedo (M, 3) float32 at surface coordinates ``uv`` (M, 2) with per-point pixel ``footprint`` (M,)."""
        u, v = uv[:, 0], uv[:, 1]
        mix = self._pattern(u, v, footprint)[:, None]
        colour = np.asarray(self.base, np.float32) * (1 - mix) + np.asarray(self.accent, np.float32) * mix
        fd = self.frequency * _DETAIL_FREQUENCY
        detail = (value_noise(u * fd, v * fd, self.seed + 101) - 0.5) * _band_limit(footprint, fd)
        return (colour * (1.0 + 2.0 * _DETAIL_AMPLITUDE * detail)[:, None]).astype(np.float32)
