"""Mamba2 mixer in pure PyTorch, with a chunked SSD scan that starts from and returns the SSM state.

The temporal module scans the tokens of one frame, then hands the final SSM state to the next frame.
The depthwise causal convolution restarts from zeros on every frame (as in the official streaming code).
mamba-ssm's fused Triton scan is used when it is installed, the tensors are on CUDA and the switch
(:func:`use_fused_scan`, or ``FLASHDEPTH_FUSED_SCAN=0`` in the environment) allows it. Either path scans in
float32 and carries the state between frames in float32, whatever the network's precision.
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

try:  # optional accelerator: `pip install flashdepth-vfx[cuda]`
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined as _fused_scan
except Exception:  # ImportError, or a CUDA extension that fails to load
    _fused_scan = None

_fused_enabled = os.environ.get("FLASHDEPTH_FUSED_SCAN", "1").strip().lower() not in ("0", "false", "no", "off")


def fused_scan_available() -> bool:
    """Whether mamba-ssm's fused scan kernel can be imported."""
    return _fused_scan is not None


def use_fused_scan(enabled: bool) -> bool:
    """Allow (True) or forbid (False: always the pure PyTorch scan) the fused kernel; returns the previous setting."""
    global _fused_enabled
    previous, _fused_enabled = _fused_enabled, bool(enabled)
    return previous


_MASKS: dict[tuple[int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}


def _upper_masks(q: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean (q, q) masks of the upper triangle with and without the diagonal, cached per size and device.

    Inside ``torch.compile`` they are built inline (constants to the compiler; a cache lookup would break the graph).
    """
    if torch.compiler.is_compiling():
        ones = torch.ones(q, q, dtype=torch.bool, device=device)
        return torch.triu(ones), torch.triu(ones, diagonal=1)
    key = (q, device)
    masks = _MASKS.get(key)
    if masks is None:
        with torch.inference_mode(False):  # normal tensors: autograd may save them in a later training step
            ones = torch.ones(q, q, dtype=torch.bool, device=device)
            masks = _MASKS[key] = (torch.triu(ones), torch.triu(ones, diagonal=1))
    return masks


def _segsum(x: torch.Tensor) -> torch.Tensor:
    """Stable segment sums: out[..., i, j] = sum(x[..., j+1 : i+1]) for j <= i, -inf above the diagonal."""
    q = x.shape[-1]
    upper, strictly_upper = _upper_masks(q, x.device)
    x = x[..., None].expand(*x.shape, q).masked_fill(upper, 0)
    return torch.cumsum(x, dim=-2).masked_fill(strictly_upper, -math.inf)


def ssd_scan(
    x: torch.Tensor,
    dt: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    state: torch.Tensor | None,
    chunk: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunked state-space-duality scan of one sequence.

    Args:
        x: (B, L, H, P) inputs; dt: (B, L, H) positive step sizes; a: (H,) negative decay rates;
        b, c: (B, L, N) input/output projections shared by all heads; state: (B, H, P, N) or None (zeros).
    Returns:
        y (B, L, H, P) without the D skip, and the final state (B, H, P, N).
    Recurrence: h_t = exp(dt_t a) h_{t-1} + dt_t x_t b_t^T, y_t = h_t c_t.
    """
    bsz, length, heads, hdim = x.shape
    n = b.shape[-1]
    dtype = x.dtype
    x, dt, b, c = x.float(), dt.float(), b.float(), c.float()
    q = min(chunk, length)
    pad = (-length) % q
    if pad:  # dt = 0 on padding: no decay and no input, so the final state is unchanged
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        dt = F.pad(dt, (0, 0, 0, pad))
        b = F.pad(b, (0, 0, 0, pad))
        c = F.pad(c, (0, 0, 0, pad))
    xdt = rearrange(x * dt[..., None], "b (k q) h p -> b k q h p", q=q)
    da = rearrange(dt * a.float(), "b (k q) h -> b h k q", q=q)
    b = rearrange(b, "b (k q) n -> b k q n", q=q)
    c = rearrange(c, "b (k q) n -> b k q n", q=q)
    da_cum = torch.cumsum(da, dim=-1)

    # within each chunk: masked (causal) attention-like product
    decay = torch.exp(_segsum(da))  # (b h k q q)
    scores = torch.einsum("bkln,bksn->bkls", c, b)
    y = torch.einsum("bkls,bhkls,bkshp->bklhp", scores, decay, xdt)

    # state contributed by each chunk, at its end
    to_end = torch.exp(da_cum[..., -1:] - da_cum)  # (b h k q)
    chunk_states = torch.einsum("bkln,bhkl,bklhp->bkhpn", b, to_end, xdt)

    # carry states across chunks, starting from the incoming state
    if state is None:
        state = torch.zeros(bsz, heads, hdim, n, device=x.device, dtype=torch.float32)
    states = torch.cat([state.float()[:, None], chunk_states], dim=1)  # (b k+1 h p n)
    chunk_decay = torch.exp(_segsum(F.pad(da_cum[..., -1], (1, 0))))  # (b h k+1 k+1)
    states = torch.einsum("bhzc,bchpn->bzhpn", chunk_decay, states)
    entering, final = states[:, :-1], states[:, -1]

    # output contributed by the state entering each chunk
    y = y + torch.einsum("bkln,bkhpn,bhkl->bklhp", c, entering, torch.exp(da_cum))
    y = rearrange(y, "b k q h p -> b (k q) h p")[:, :length]
    return y.to(dtype), final


class RMSNormGated(nn.Module):
    """RMSNorm of ``y * silu(z)`` over all channels (one group), times a learned weight."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        y = (y * F.silu(z)).float()
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(z.dtype)


class Mamba2(nn.Module):
    """Mamba2 mixer (one B/C group, per-head D), parameter names as in mamba-ssm."""

    def __init__(self, d_model: int, d_state: int, d_conv: int, expand: int, headdim: int, chunk: int = 64) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.headdim = headdim
        self.nheads = self.d_inner // headdim
        self.chunk = chunk
        conv_dim = self.d_inner + 2 * d_state
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner + 2 * d_state + self.nheads, bias=False)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim, padding=d_conv - 1)
        self.dt_bias = nn.Parameter(torch.zeros(self.nheads))
        self.A_log = nn.Parameter(torch.zeros(self.nheads))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = RMSNormGated(self.d_inner)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def state_shape(self, batch: int) -> tuple[int, int, int, int]:
        """Shape of the SSM state carried between frames."""
        return (batch, self.nheads, self.headdim, self.d_state)

    def forward(self, u: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """u: (B, L, d_model) tokens of one frame. Returns the output and the SSM state after the last token."""
        length = u.shape[1]
        z, xbc, dt = torch.split(self.in_proj(u), [self.d_inner, self.d_inner + 2 * self.d_state, self.nheads], dim=-1)
        xbc = F.silu(self.conv1d(xbc.transpose(1, 2))[..., :length].transpose(1, 2))
        x, b, c = torch.split(xbc, [self.d_inner, self.d_state, self.d_state], dim=-1)
        x = rearrange(x, "b l (h p) -> b l h p", p=self.headdim)
        dt = F.softplus(dt + self.dt_bias)
        a = -torch.exp(self.A_log.float())
        if _fused_scan is not None and _fused_enabled and u.is_cuda:
            # float32 operands: the kernel returns the final state in C's dtype, and the state must not be
            # rounded to bf16 every frame. The scan sees a pooled grid of a few hundred tokens: fp32 is cheap.
            y, state = _fused_scan(
                x.float(), dt.float(), a, b.float()[:, :, None], c.float()[:, :, None], chunk_size=256,
                initial_states=None if state is None else state.float(), return_final_states=True,
            )
            y, state = y.to(x.dtype), state.float()
        else:
            y, state = ssd_scan(x, dt, a, b, c, state, self.chunk)
        y = y + x * self.D[:, None].to(x.dtype)
        y = self.norm(rearrange(y, "b l h p -> b l (h p)"), z)
        return self.out_proj(y), state
