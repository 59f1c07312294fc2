"""Output modes: what the depth channel holds, and how to read it back.

- ``disparity``: the model's output, relative inverse depth (near is large, 0 is infinitely far).
- ``depth`` (default): ``depth_scale / max(disparity, DISPARITY_EPSILON)``. The official checkpoints were trained
  on disparity x 100 (1/m), so with the default scale 100 the values are roughly metres, up to the model's
  per-shot scale/shift ambiguity. Sky and other zero-disparity pixels get the far value
  ``depth_scale / DISPARITY_EPSILON``. This is what Nuke's ZDefocus (math: depth), Houdini and Fusion's
  Depth Blur expect: larger is farther.
- ``normalized``: disparity mapped to 0..1 over the whole shot (1 = nearest), the range stored in the file's
  metadata (``flashdepth:range_min``/``range_max``) so it can be inverted; ZDefocus math "far = 0".
"""
from __future__ import annotations

import numpy as np

DISPARITY_EPSILON = 1e-2


def to_depth(disparity: np.ndarray, scale: float) -> np.ndarray:
    """Depth from disparity: ``scale / max(disparity, DISPARITY_EPSILON)``."""
    return (scale / np.maximum(disparity, DISPARITY_EPSILON)).astype(np.float32)


def normalize(disparity: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Disparity to 0..1 over [lo, hi] (the whole shot's range)."""
    span = hi - lo
    if span <= 0:
        return np.zeros_like(disparity, dtype=np.float32)
    return np.clip((disparity - lo) / span, 0.0, 1.0).astype(np.float32)


def denormalize(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Inverse of :func:`normalize` (within the stored range)."""
    return (values * (hi - lo) + lo).astype(np.float32)
