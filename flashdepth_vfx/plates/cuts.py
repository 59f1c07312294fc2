"""Hard-cut detection between consecutive plates, for ``--reset-on-cut``."""
from __future__ import annotations

import numpy as np

CUT_THRESHOLD = 0.5
"""Histogram distance above which two frames are taken to belong to different shots."""


def signature(rgb: np.ndarray, bins: int = 16) -> np.ndarray:
    """A normalised per-channel histogram of a display-referred frame (H, W, 3) in [0, 1]."""
    step = max(1, min(rgb.shape[0], rgb.shape[1]) // 64)
    small = rgb[::step, ::step]
    hist = [np.histogram(small[..., c], bins=bins, range=(0.0, 1.0))[0] for c in range(3)]
    sig = np.concatenate(hist).astype(np.float64)
    return sig / max(sig.sum(), 1.0)


def is_cut(previous: np.ndarray, current: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """True when two signatures differ by more than ``threshold`` (total variation distance x 3 channels / 3)."""
    return float(np.abs(previous - current).sum()) / 2.0 > threshold
