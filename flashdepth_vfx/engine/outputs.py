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

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .lanes import Lanes

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


class PendingOutput:
    """One frame's output values and disparity range on their way back from the device.

    On CUDA they are computed there (on the model's stream) and copied into pinned host memory on the render's copy
    stream (:mod:`.lanes`), overlapping the next frame; on a CPU their computation itself is left to whoever asks (an
    encode worker), off the model's thread. :meth:`result` waits for either, so the model loop never waits for a copy.
    """

    def __init__(self, disparity: torch.Tensor, size: tuple[int, int], mode: str, scale: float, half: bool,
                 lanes: Lanes | None = None) -> None:
        self._args = (size, mode, scale, half)
        self._disparity: torch.Tensor | None = disparity
        self._copied: Any = None
        lanes = lanes or Lanes(disparity.device)
        if lanes.calls is not None:
            values, stats = self._compute()
            (self._values, self._stats), self._copied = lanes.copy_back([values, stats])
            self._disparity = None

    def _compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        size, mode, scale, half = self._args
        assert self._disparity is not None
        with torch.inference_mode():
            disparity = self._disparity.float()
            if disparity.shape != size:
                disparity = F.interpolate(disparity[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
            values = scale / disparity.clamp(min=DISPARITY_EPSILON) if mode == "depth" else disparity
            if half:
                values = values.half()
            return values, torch.stack([disparity.min(), disparity.max()])

    def result(self) -> tuple[np.ndarray, float, float]:
        """(values, disparity min, disparity max), once computed and copied back (a sleeping wait on CUDA)."""
        if self._copied is not None:
            self._copied.synchronize()
            values, stats = self._values, self._stats
        else:
            values, stats = self._compute()
        low, high = stats.tolist()
        return values.numpy(), float(low), float(high)


def device_output(disparity: torch.Tensor, size: tuple[int, int], mode: str, scale: float, half: bool,
                  lanes: Lanes | None = None) -> PendingOutput:
    """The values written for ``mode`` (``depth``: :func:`to_depth`, else disparity) at the plate's ``size`` (bilinear
    from the model's output ``disparity`` (h, w)), and the disparity range for ``normalized``, computed where
    ``disparity`` lives and handed back in the output precision; ``lanes``: the render's CUDA streams."""
    return PendingOutput(disparity, size, mode, scale, half, lanes)
