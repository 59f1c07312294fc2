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

from dataclasses import dataclass

import numpy as np
import torch

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


@dataclass
class PendingOutput:
    """One frame's output values and disparity range on their way back from the device.

    On CUDA the copy runs asynchronously into pinned host memory after the frame's kernels; :meth:`result`
    waits for it (in an encode worker), so the model loop never waits for a copy.
    """

    values: torch.Tensor  # (H, W) host, the output precision (float32, or float16 for --half)
    stats: torch.Tensor  # (2,) host float32: disparity min, max
    copied: torch.cuda.Event | None = None

    def result(self) -> tuple[np.ndarray, float, float]:
        """(values, disparity min, disparity max), once the copy has landed."""
        if self.copied is not None:
            self.copied.synchronize()
        low, high = self.stats.tolist()
        return self.values.numpy(), float(low), float(high)


def device_output(disparity: torch.Tensor, mode: str, scale: float, half: bool) -> PendingOutput:
    """The values written for ``mode`` (``depth``: :func:`to_depth`, else disparity), and the disparity range for
    ``normalized``, computed where ``disparity`` (H, W) lives and copied back in the output precision."""
    disparity = disparity.float()
    values = scale / disparity.clamp(min=DISPARITY_EPSILON) if mode == "depth" else disparity
    if half:
        values = values.half()
    stats = torch.stack([disparity.min(), disparity.max()])
    if disparity.device.type != "cuda":
        return PendingOutput(values.cpu(), stats.cpu())
    host_values = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
    host_stats = torch.empty(2, dtype=torch.float32, pin_memory=True)
    host_values.copy_(values, non_blocking=True)
    host_stats.copy_(stats, non_blocking=True)
    copied = torch.cuda.Event()
    copied.record()
    return PendingOutput(host_values, host_stats, copied)
