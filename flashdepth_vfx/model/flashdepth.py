"""The FlashDepth network: DINOv2 encoder, DPT decoder with a Mamba2 temporal module, optional hybrid teacher."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from .config import FlashDepthConfig
from .dinov2 import DinoVisionTransformer
from .dpt import DPTHead
from .fusion import HybridFusion
from .stream import DepthStream
from .temporal import TemporalModule, TemporalState


class Teacher(nn.Module):
    """The low-resolution ViT-L teacher of the hybrid model; only its path_4 is used."""

    def __init__(self, cfg: FlashDepthConfig) -> None:
        super().__init__()
        assert cfg.teacher_vit is not None and cfg.teacher_dpt is not None
        self.pretrained = DinoVisionTransformer(cfg.teacher_vit)
        self.depth_head = DPTHead(cfg.teacher_vit.embed_dim, cfg.teacher_dpt)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        p = self.pretrained.cfg.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        tokens = self.pretrained.get_intermediate_layers(x, pos)
        return self.depth_head.path4(tokens[3], grid)


PositionEmbeddings = tuple[torch.Tensor, Optional[torch.Tensor]]
"""The student's position embedding and the teacher's (hybrid only) for one input size."""


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
        # Hybrid on CUDA: run the teacher on its own stream, overlapping the student's encoder. Off by default
        # until a GPU measurement shows it pays (benchmarks/gpu_check.sh times both).
        self.teacher_on_side_stream = False
        self._side_streams: dict[torch.device, torch.cuda.Stream] = {}

    @property
    def patch_size(self) -> int:
        """Input sides must be multiples of this."""
        return self.cfg.vit.patch_size

    def teacher_size(self, height: int, width: int) -> tuple[int, int]:
        """The hybrid resize rule: taller than ``teacher_resolution`` -> that height, width a multiple of 14."""
        tr = self.cfg.teacher_resolution
        if height <= tr:
            return height, width
        return tr, int(tr / height * width) // self.patch_size * self.patch_size

    def teacher_input(self, x: torch.Tensor) -> torch.Tensor:
        """The teacher's view of the input (bilinear, corners aligned, as the official code does)."""
        size = self.teacher_size(*x.shape[-2:])
        if size == tuple(x.shape[-2:]):
            return x
        return F.interpolate(x, size, mode="bilinear", align_corners=True)

    def position_embeddings(self, height: int, width: int) -> PositionEmbeddings:
        """The resized position embeddings an (height, width) input needs (cached by the encoders at inference).

        Looked up here, outside :meth:`core`, so that the compiled region is one graph: the cache is plain Python.
        """
        p = self.patch_size
        dtype = self.pretrained.patch_embed.proj.weight.dtype
        student = self.pretrained.position_embedding(height // p, width // p, dtype)
        if not self.cfg.hybrid:
            return student, None
        th, tw = self.teacher_size(height, width)
        return student, self.teacher_model.pretrained.position_embedding(th // p, tw // p, dtype)

    def forward(self, x: torch.Tensor, state: TemporalState | None = None) -> tuple[torch.Tensor, TemporalState]:
        """One frame. x: (B, 3, H, W) ImageNet-normalised, H and W multiples of 14.

        Returns the relative inverse depth (B, H, W), >= 0, and the temporal state after this frame.
        """
        return self.core(x, state, self.position_embeddings(*x.shape[-2:]))

    def core(
        self, x: torch.Tensor, state: TemporalState | None, pos: PositionEmbeddings
    ) -> tuple[torch.Tensor, TemporalState]:
        """:meth:`forward` given the position embeddings: pure tensor code, the region ``torch.compile`` captures."""
        p = self.patch_size
        grid = (x.shape[-2] // p, x.shape[-1] // p)
        side = self._teacher_stream(x) if self.cfg.hybrid else None
        if side is not None:  # the teacher overlaps the student's encoder on its own CUDA stream
            main = torch.cuda.current_stream(x.device)
            side.wait_stream(main)
            with torch.cuda.stream(side), record_function("flashdepth.teacher"):
                context = self.teacher_model(self.teacher_input(x), pos[1])
        with record_function("flashdepth.backbone"):
            tokens = self.pretrained.get_intermediate_layers(x, pos[0])
        path4 = None
        if self.cfg.hybrid:
            if side is None:
                with record_function("flashdepth.teacher"):
                    context = self.teacher_model(self.teacher_input(x), pos[1])
            else:
                main.wait_stream(side)
                if not torch.cuda.is_current_stream_capturing():
                    context.record_stream(main)  # made on the side stream, used and freed on this one
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

    def _teacher_stream(self, x: torch.Tensor) -> torch.cuda.Stream | None:
        """The side CUDA stream of the teacher, when :attr:`teacher_on_side_stream` is set and x is on CUDA."""
        if not (self.teacher_on_side_stream and x.is_cuda) or torch.compiler.is_compiling():
            return None
        stream = self._side_streams.get(x.device)
        if stream is None:
            stream = self._side_streams[x.device] = torch.cuda.Stream(x.device)
        return stream

    def optimize_for_inference(self, *, channels_last: bool = True, compile: bool = False) -> "FlashDepth":
        """Eval mode, channels-last decoder convolutions (faster on CPU and GPU), optionally ``torch.compile``.

        Compiling wraps :meth:`core`, which holds no Python-side caches: one graph per input size.
        """
        self.eval()
        if channels_last:
            self.depth_head.to(memory_format=torch.channels_last)
        if compile:
            self.core = torch.compile(self.core, dynamic=False)  # type: ignore[method-assign]
        return self

    def stream(self) -> DepthStream:
        """A fresh streaming session (empty temporal state) over this network."""
        return DepthStream(self)
