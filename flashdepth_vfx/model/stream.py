"""Streaming inference: the temporal state, frame sizing and the snapshot format."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import OFFICIAL_MAX_SIDE
from .flashdepth import FlashDepth
from .temporal import TemporalState

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def inference_size(height: int, width: int, max_side: int | None = OFFICIAL_MAX_SIDE, min_side: int = 70,
                   multiple: int = 14) -> tuple[int, int]:
    """The model resolution for a frame, as the official inference chooses it.

    The long side is capped at ``max_side`` (aspect kept, sizes truncated), then each side is rounded up to a
    multiple of 14. Frames whose short side is below ``min_side`` are scaled up first (the temporal module's
    pooling grid needs it).
    """
    h, w = float(height), float(width)
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        h, w = float(int(h * scale)), float(int(w * scale))
    if min(h, w) < min_side:
        scale = min_side / min(h, w)
        h, w = h * scale, w * scale
    return multiple * math.ceil(round(h, 6) / multiple), multiple * math.ceil(round(w, 6) / multiple)


@dataclass
class StreamState:
    """A snapshot of a stream: the SSM state of every Mamba2 layer and how many frames produced it."""

    states: list[torch.Tensor]
    frames_seen: int
    meta: dict[str, str] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write as safetensors (1 MiB for S and Full, 2 MiB for L)."""
        from safetensors.torch import save_file

        tensors = {f"state.{i}": s.detach().cpu().contiguous() for i, s in enumerate(self.states)}
        save_file(tensors, str(path), metadata={**self.meta, "frames_seen": str(self.frames_seen)})

    @classmethod
    def load(cls, path: str | Path) -> "StreamState":
        """Read a snapshot written by :meth:`save`."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            states = [f.get_tensor(f"state.{i}") for i in range(len(list(f.keys())))]
        frames_seen = int(meta.pop("frames_seen", "0"))
        return cls(states, frames_seen, meta)


class DepthStream:
    """Feeds frames through one FlashDepth network strictly in order, carrying the temporal state.

    ``step`` takes RGB in [0, 1] (display-referred sRGB) and does the ImageNet normalisation itself.
    """

    def __init__(self, model: FlashDepth) -> None:
        self.model = model
        self._state: TemporalState | None = None
        self.frames_seen = 0
        param = next(model.parameters())
        self._mean = torch.tensor(IMAGENET_MEAN, device=param.device, dtype=param.dtype).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=param.device, dtype=param.dtype).view(1, 3, 1, 1)

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return self._mean.device

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        """One frame (1, 3, H, W) or (3, H, W), sides multiples of 14 -> output (1, H, W) float32."""
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        p = self.model.patch_size
        if frame.shape[-2] % p or frame.shape[-1] % p:
            raise ValueError(f"frame size {tuple(frame.shape[-2:])} is not a multiple of {p}; use step_any_size()")
        x = (frame.to(self._mean) - self._mean) / self._std
        out, self._state = self.model(x, self._state)
        self.frames_seen += 1
        return out.float()

    def step_any_size(self, frame: torch.Tensor, max_side: int | None = None) -> torch.Tensor:
        """A frame of any size: resized (bicubic) to the model resolution, output resized back (bilinear).

        ``max_side`` caps the model input's long side (default: the model's own cap, ``cfg.max_side``).
        """
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        h, w = frame.shape[-2:]
        size = inference_size(h, w, max_side or self.model.cfg.max_side, self.model.cfg.min_side, self.model.patch_size)
        x = frame.to(self._mean)
        if size != (h, w):
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp_(0, 1)
        out = self.step(x)
        if size != (h, w):
            out = F.interpolate(out[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return out

    def snapshot(self) -> StreamState:
        """A copy of the temporal state; restoring it continues exactly from here."""
        states = [] if self._state is None else [s.detach().clone() for s in self._state]
        return StreamState(states, self.frames_seen, {"model": self.model.cfg.name})

    def restore(self, snap: StreamState) -> None:
        """Continue from a snapshot (taken from a stream of the same model)."""
        expected = self.model.cfg.temporal.num_blocks
        if snap.states and len(snap.states) != expected:
            raise ValueError(f"snapshot holds {len(snap.states)} layer states, this model has {expected}")
        self._state = [s.to(self.device) for s in snap.states] or None
        self.frames_seen = snap.frames_seen

    def state_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the temporal state's tensors (one per Mamba2 layer), as :meth:`snapshot` holds them."""
        return [tuple(block.mamba.state_shape(1)) for block in self.model.mamba.blocks[0]]

    def reset(self) -> None:
        """Start a new sequence (forget the temporal state)."""
        self._state = None
        self.frames_seen = 0
