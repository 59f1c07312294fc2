"""Controlled per-frame affine drift of a disparity sequence: what a streaming depth model's scale wander looks like.

A frame's drifted disparity is ``scale[t] * disparity[t] + shift[t]`` (plus optional per-pixel noise), with

- ``scale[t] = (1 + trend * t / (T - 1)) * (1 + scale_noise * n_t)``: a slow trend over the shot times white noise
  (3% by default, the frame-to-frame wander);
- ``shift[t] = shift_noise * median(disparity) * m_t``: additive per-frame noise in units of the shot's median
  disparity;

``n_t``, ``m_t`` standard normal, all drawn from ``seed``. Undoing the drift exactly is
``(drifted - shift[t]) / scale[t]``. numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Drift:
    """Per-frame affine drift: drifted_t = ``scale[t]`` * d_t + ``shift[t]``; ``trend`` is its slow part alone."""

    scale: np.ndarray  # (T,)
    shift: np.ndarray  # (T,)
    trend: np.ndarray  # (T,) the slow factor in scale, without the white noise

    def apply(self, disparity: np.ndarray) -> np.ndarray:
        """Drift a (T, H, W) disparity sequence (float32 result)."""
        if len(disparity) != len(self.scale):
            raise ValueError(f"drift has {len(self.scale)} frames, disparity {len(disparity)}")
        return (self.scale[:, None, None] * disparity + self.shift[:, None, None]).astype(np.float32)

    def undo(self, drifted: np.ndarray) -> np.ndarray:
        """The exact inverse of :meth:`apply` (per-pixel noise aside)."""
        return ((drifted - self.shift[:, None, None]) / self.scale[:, None, None]).astype(np.float32)


def sample_drift(
    num_frames: int,
    seed: int = 0,
    scale_noise: float = 0.03,
    trend: float = 0.1,
    shift_noise: float = 0.02,
    reference_disparity: float = 1.0,
) -> Drift:
    """Draw a :class:`Drift` for ``num_frames`` frames (see the module docstring for the parameters)."""
    if num_frames < 1:
        raise ValueError("num_frames must be at least 1")
    rng = np.random.default_rng([seed, 14])
    ramp = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    slow = 1.0 + trend * ramp
    scale = slow * (1.0 + scale_noise * rng.standard_normal(num_frames))
    shift = shift_noise * reference_disparity * rng.standard_normal(num_frames)
    return Drift(scale=scale, shift=shift, trend=slow)


def inject_drift(
    disparity: np.ndarray,
    seed: int = 0,
    scale_noise: float = 0.03,
    trend: float = 0.1,
    shift_noise: float = 0.02,
    pixel_noise: float = 0.0,
) -> tuple[np.ndarray, Drift]:
    """Drift a (T, H, W) disparity sequence; returns the drifted frames (float32) and the drift applied.

    ``shift_noise`` and ``pixel_noise`` (per-pixel Gaussian noise, std) are in units of the sequence's median
    finite disparity, so the same settings mean the same thing for metric disparity (1/m) and model units.
    """
    disparity = np.asarray(disparity, np.float32)
    if disparity.ndim != 3:
        raise ValueError(f"disparity must be (T, H, W), got shape {disparity.shape}")
    finite = disparity[np.isfinite(disparity)]
    reference = float(np.median(finite)) if finite.size else 1.0
    drift = sample_drift(len(disparity), seed, scale_noise, trend, shift_noise, reference)
    drifted = drift.apply(disparity)
    if pixel_noise > 0:
        rng = np.random.default_rng([seed, 15])
        drifted += np.float32(pixel_noise * reference) * rng.standard_normal(drifted.shape, np.float32)
    return drifted, drift
