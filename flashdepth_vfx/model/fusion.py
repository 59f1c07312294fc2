"""Hybrid fusion: the student's coarse features attend to the low-resolution teacher's features."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .config import FusionConfig


class CrossAttention(nn.Module):
    """Multi-head cross-attention, q from x and k|v (heads-major halves) from the context."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv = nn.Linear(dim, 2 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = rearrange(self.q(x), "b n (h d) -> b h n d", h=self.num_heads)
        k, v = rearrange(self.kv(context), "b m (two h d) -> two b h m d", two=2, h=self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class FusionBlock(nn.Module):
    """x + CrossAttn(LN(x), LN(context)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, cfg: FusionConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = CrossAttention(dim, cfg.num_heads)
        self.context_norm = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * cfg.mlp_expand), nn.GELU(), nn.Linear(dim * cfg.mlp_expand, dim))
        # Every block holds a context projection; only the first block's is used.
        self.context_proj = nn.Linear(cfg.context_dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), self.context_norm(context))
        return x + self.mlp(self.norm2(x))


class HybridFusion(nn.Module):
    """Fuses teacher path_4 (context) into student path_4; only path_4 is fused in the released model."""

    def __init__(self, dim: int, cfg: FusionConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.ModuleList(FusionBlock(dim, cfg) for _ in range(cfg.num_blocks))])

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        blocks = self.blocks[0]
        tokens = rearrange(x, "b c h w -> b (h w) c")
        ctx = blocks[0].context_proj(rearrange(context, "b c h w -> b (h w) c"))
        for block in blocks:
            tokens = block(tokens, ctx)
        return rearrange(tokens, "b (h w) c -> b c h w", h=h, w=w)
