"""The FlashDepth network: DINOv2 encoder, DPT decoder with a Mamba2 temporal module, optional hybrid teacher."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from .config import FlashDepthConfig
from .dinov2 import DinoVisionTransformer
from .dpt import DPTHead
from .fusion import HybridFusion
from .temporal import TemporalModule, TemporalState


class Teacher(nn.Module):
    """The low-resolution ViT-L teacher of the hybrid model; only its path_4 is used."""

    def __init__(self, cfg: FlashDepthConfig) -> None:
        super().__init__()
        assert cfg.teacher_vit is not None and cfg.teacher_dpt is not None
        self.pretrained = DinoVisionTransformer(cfg.teacher_vit)
        self.depth_head = DPTHead(cfg.teacher_vit.embed_dim, cfg.teacher_dpt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pretrained.cfg.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        tokens = self.pretrained.get_intermediate_layers(x)
        return self.depth_head.path4(tokens[3], grid)


class FlashDepth(nn.Module):
    """One FlashDepth network. Stateless: the temporal state goes in and comes out of :meth:`forward`.

    Use :meth:`stream` for frame-by-frame inference; it owns the state.
    """

    def __init__(self, cfg: FlashDepthConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.hybrid:
            assert cfg.fusion is not None
            self.teacher_model = Teacher(cfg)
            self.hybrid_fusion = HybridFusion(cfg.dpt.features, cfg.fusion)
        self.pretrained = DinoVisionTransformer(cfg.vit)
        self.mamba = TemporalModule(cfg.dpt.features, cfg.temporal)
        self.depth_head = DPTHead(cfg.vit.embed_dim, cfg.dpt)

    @property
    def patch_size(self) -> int:
        """Input sides must be multiples of this."""
        return self.cfg.vit.patch_size

    def teacher_input(self, x: torch.Tensor) -> torch.Tensor:
        """The hybrid resize rule: taller than ``teacher_resolution`` -> resized to that height, width a multiple of 14."""
        h, w = x.shape[-2:]
        tr = self.cfg.teacher_resolution
        if h <= tr:
            return x
        tw = int(tr / h * w) // self.patch_size * self.patch_size
        return F.interpolate(x, (tr, tw), mode="bilinear", align_corners=True)

    def forward(self, x: torch.Tensor, state: TemporalState | None = None) -> tuple[torch.Tensor, TemporalState]:
        """One frame. x: (B, 3, H, W) ImageNet-normalised, H and W multiples of 14.

        Returns the relative inverse depth (B, H, W), >= 0, and the temporal state after this frame.
        """
        p = self.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        with record_function("flashdepth.backbone"):
            tokens = self.pretrained.get_intermediate_layers(x)
        path4 = None
        if self.cfg.hybrid:
            with record_function("flashdepth.teacher"):
                context = self.teacher_model(self.teacher_input(x))
            with record_function("flashdepth.fusion"):
                path4 = self.hybrid_fusion(self.depth_head.path4(tokens[3], grid), context)

        new_state: TemporalState = []

        def temporal(i: int, feature: torch.Tensor) -> torch.Tensor:
            if i != self.cfg.temporal.dpt_layer:
                return feature
            with record_function("flashdepth.temporal"):
                out, s = self.mamba(feature, state)
            new_state.extend(s)
            return out

        with record_function("flashdepth.dpt"):
            features = self.depth_head.decode(tokens, grid, path4=path4, hook=temporal)
            depth = self.depth_head.head(features, (grid[0] * p, grid[1] * p))
        return depth, new_state

    def optimize_for_inference(self, *, channels_last: bool = True, compile: bool = False) -> "FlashDepth":
        """Eval mode, channels-last decoder convolutions (faster on CPU and GPU), optionally ``torch.compile``."""
        self.eval()
        if channels_last:
            self.depth_head.to(memory_format=torch.channels_last)
        if compile:
            self.forward = torch.compile(self.forward, dynamic=False)  # type: ignore[method-assign]
        return self

    def stream(self) -> "DepthStream":
        """A fresh streaming session (empty temporal state) over this network."""
        from .stream import DepthStream

        return DepthStream(self)
