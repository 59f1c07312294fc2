"""The temporal module: Mamba2 blocks over a pooled DPT feature map, added back residually."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .config import TemporalConfig
from .mamba2 import Mamba2

TemporalState = list[torch.Tensor]
"""One SSM state per Mamba2 layer, (B, heads, headdim, d_state) each."""


class MambaBlock(nn.Module):
    """x + Mamba2(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, cfg: TemporalConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mamba = Mamba2(dim, cfg.d_state, cfg.d_conv, cfg.expand, cfg.headdim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        y, state = self.mamba(self.norm1(x), state)
        x = x + y
        return x + self.mlp(self.norm2(x)), state


class TemporalModule(nn.Module):
    """Carries information across frames through the Mamba2 SSM states.

    The feature map is average-pooled to ``int(downsample * h) x int(downsample * w)``, scanned in row-major
    order, upsampled back (bilinear, align_corners=True), passed through GELU+Linear and added to the input.
    """

    def __init__(self, dim: int, cfg: TemporalConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # One block list per DPT layer that has a temporal module (always one in the released models).
        self.blocks = nn.ModuleList([nn.ModuleList(MambaBlock(dim, cfg) for _ in range(cfg.num_blocks))])
        self.final_layer = nn.Sequential(nn.GELU(), nn.Linear(dim, dim))

    def state_shapes(self, batch: int) -> list[tuple[int, int, int, int]]:
        """Shapes of the SSM states carried between frames, one per Mamba2 layer."""
        return [m.state_shape(batch) for m in self.modules() if isinstance(m, Mamba2)]

    def pooled_size(self, h: int, w: int) -> tuple[int, int]:
        """The token grid scanned for an (h, w) feature map."""
        return int(h * self.cfg.downsample), int(w * self.cfg.downsample)

    def forward(self, f: torch.Tensor, state: TemporalState | None) -> tuple[torch.Tensor, TemporalState]:
        h, w = f.shape[-2:]
        ph, pw = self.pooled_size(h, w)
        if ph < 1 or pw < 1:
            raise ValueError(f"feature map {h}x{w} is too small for the temporal module (needs >= 10 cells a side)")
        x = rearrange(F.adaptive_avg_pool2d(f, (ph, pw)), "b c h w -> b (h w) c")
        new_state: TemporalState = []
        for i, block in enumerate(self.blocks[0]):
            x, s = block(x, None if state is None else state[i])
            new_state.append(s)
        x = F.interpolate(rearrange(x, "b (h w) c -> b c h w", h=ph), size=(h, w), mode="bilinear", align_corners=True)
        x = self.final_layer(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return f + x, new_state
