"""DINOv2 vision transformer, as used by Depth Anything v2 (intermediate layers, no registers)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ViTConfig


class PatchEmbed(nn.Module):
    """Non-overlapping 14x14 patches to tokens."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention through fused scaled-dot-product attention."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """Two-layer MLP with exact GELU."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel learned scale of a residual branch."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block with layer scale."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoVisionTransformer(nn.Module):
    """DINOv2 ViT returning normalised patch tokens of chosen blocks.

    The learned position grid is resized to the input's patch grid with bicubic interpolation by the
    *scale factor* ``(n + 0.1) / 37``, exactly as DINOv2 does; the result is cached per grid size.
    """

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.pos_grid**2 + 1, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # held for checkpoint compatibility; unused at inference
        self.patch_embed = PatchEmbed(cfg.patch_size, dim)
        self.blocks = nn.ModuleList(Block(dim, cfg.num_heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        # Resized position embeddings per (grid, dtype, device, parameter version): an optimiser step bumps the
        # parameter's version, which invalidates the entry; loading weights clears the cache.
        self._pos_cache: dict[tuple[int, int, torch.dtype, torch.device, int], torch.Tensor] = {}

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._pos_cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    def position_embedding(self, grid_h: int, grid_w: int, dtype: torch.dtype) -> torch.Tensor:
        """Position embedding (1, 1 + grid_h*grid_w, dim) for a patch grid, cached when not training."""
        version = 0 if self.pos_embed.is_inference() else self.pos_embed._version  # inference tensors have none
        key = (grid_h, grid_w, dtype, self.pos_embed.device, version)
        cached = self._pos_cache.get(key)
        if cached is not None and not torch.is_grad_enabled():
            return cached
        n = self.cfg.pos_grid
        pos = self.pos_embed.float()
        if grid_h * grid_w == n * n and grid_h == grid_w:
            out = pos
        else:
            patch = pos[:, 1:].reshape(1, n, n, -1).permute(0, 3, 1, 2)
            scale = ((grid_h + 0.1) / math.sqrt(n * n), (grid_w + 0.1) / math.sqrt(n * n))
            patch = F.interpolate(patch, scale_factor=scale, mode="bicubic", antialias=False)
            if patch.shape[-2:] != (grid_h, grid_w):
                raise RuntimeError(f"position grid resize gave {tuple(patch.shape[-2:])}, expected {(grid_h, grid_w)}")
            out = torch.cat([pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)], dim=1)
        out = out.to(dtype)
        if not torch.is_grad_enabled():
            self._pos_cache = {k: v for k, v in self._pos_cache.items() if k[4] == key[4]}
            self._pos_cache[key] = out
        return out

    def get_intermediate_layers(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Normalised patch tokens (B, N, dim) after each block in ``cfg.intermediate_layers``.

        ``pos``: the position embedding of this input size (:meth:`position_embedding`), when the caller
        looked it up already (outside a compiled region: the cache lookup is plain Python).
        """
        b, _, h, w = x.shape
        p = self.cfg.patch_size
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1).to(tokens.dtype), tokens], dim=1)
        tokens = tokens + (self.position_embedding(h // p, w // p, tokens.dtype) if pos is None else pos.to(tokens.dtype))
        wanted = set(self.cfg.intermediate_layers)
        outputs = []
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i in wanted:
                outputs.append(self.norm(tokens)[:, 1:])
            if i >= max(wanted):
                break
        return outputs
