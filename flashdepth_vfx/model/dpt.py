"""Depth Anything v2 DPT head: reassemble ViT tokens at four scales, fuse them coarse to fine."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import DPTConfig


class ResidualConvUnit(nn.Module):
    """ReLU-conv-ReLU-conv with a skip connection."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


class FeatureFusionBlock(nn.Module):
    """RefineNet-style fusion: add the skip feature, refine, upsample, project."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1)
        self.resConfUnit1 = ResidualConvUnit(features)  # unused by refinenet4 (single input), still in checkpoints
        self.resConfUnit2 = ResidualConvUnit(features)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None, size: tuple[int, int] | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        else:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class Scratch(nn.Module):
    """Channel adapters, fusion blocks and the output convolutions (named as in the checkpoints)."""

    def __init__(self, cfg: DPTConfig) -> None:
        super().__init__()
        f = cfg.features
        for i, c in enumerate(cfg.out_channels, start=1):
            setattr(self, f"layer{i}_rn", nn.Conv2d(c, f, 3, padding=1, bias=False))
        for i in range(1, 5):
            setattr(self, f"refinenet{i}", FeatureFusionBlock(f))
        self.output_conv1 = nn.Conv2d(f, f // 2, 3, padding=1)
        self.output_conv2 = nn.Sequential(
            nn.Conv2d(f // 2, cfg.head_features, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(cfg.head_features, 1, 1),
            nn.ReLU(),
        )


FeatureHook = Callable[[int, torch.Tensor], torch.Tensor]
"""Called with (path index 0..3, feature map) after each fusion step; returns the (possibly changed) map."""


class DPTHead(nn.Module):
    """The DPT decoder. Path 0 is the coarsest (after refinenet4), path 3 the finest (after refinenet1)."""

    def __init__(self, in_dim: int, cfg: DPTConfig) -> None:
        super().__init__()
        oc = cfg.out_channels
        self.projects = nn.ModuleList(nn.Conv2d(in_dim, c, 1) for c in oc)
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(oc[0], oc[0], 4, stride=4),
                nn.ConvTranspose2d(oc[1], oc[1], 2, stride=2),
                nn.Identity(),
                nn.Conv2d(oc[3], oc[3], 3, stride=2, padding=1),
            ]
        )
        self.scratch = Scratch(cfg)

    def _layer(self, i: int, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        # (B, N, C) tokens viewed as (B, C, h, w) in channels-last strides: no copy, and none for the
        # channels-last convolutions either (a transpose-reshape made an NCHW copy that they converted back)
        x = tokens.reshape(tokens.shape[0], *grid, tokens.shape[-1]).permute(0, 3, 1, 2)
        x = self.resize_layers[i](self.projects[i](x))
        return getattr(self.scratch, f"layer{i + 1}_rn")(x)

    def path4(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """The coarsest fused feature (refinenet4 output) at the patch grid, from the last token layer only."""
        return self.scratch.refinenet4(self._layer(3, tokens, grid), size=grid)

    def decode(
        self,
        tokens: list[torch.Tensor],
        grid: tuple[int, int],
        path4: torch.Tensor | None = None,
        hook: FeatureHook | None = None,
    ) -> torch.Tensor:
        """Fused finest feature map (path_1). ``path4`` replaces refinenet4's output (hybrid fusion)."""
        layers = [self._layer(i, tokens[i], grid) for i in range(3)]
        s = self.scratch
        path = self.path4(tokens[3], grid) if path4 is None else path4
        steps = [
            lambda p: p,
            lambda p: s.refinenet3(p, layers[2], size=layers[1].shape[-2:]),
            lambda p: s.refinenet2(p, layers[1], size=layers[0].shape[-2:]),
            lambda p: s.refinenet1(p, layers[0]),
        ]
        for i, step in enumerate(steps):
            path = step(path)
            if hook is not None:
                path = hook(i, path)
        return path

    def head(self, features: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        """Output convolutions: (B, C, h, w) features to a (B, H, W) non-negative map."""
        x = self.scratch.output_conv1(features)
        x = F.interpolate(x, size=out_size, mode="bilinear", align_corners=True)
        return self.scratch.output_conv2(x).squeeze(1)
