"""The piecewise sRGB transfer functions (IEC 61966-2-1), as OpenColorIO's "sRGB Encoded Rec.709 (sRGB)" uses."""
from __future__ import annotations

import numpy as np


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB EOTF: display-encoded values in [0, 1] -> linear light (float32)."""
    c = np.asarray(encoded, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Inverse sRGB EOTF: linear light, clipped to [0, 1] -> display-encoded values (float32)."""
    c = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055).astype(np.float32)
