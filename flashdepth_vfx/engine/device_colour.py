"""OpenColorIO display conversions as torch ops, for plates already on the GPU.

The conversion's optimised OCIO steps are turned into torch ops one by one: matrices, ranges, exponents, the
sRGB-style moncurves (``ExponentWithLinearTransform``) and the log / camera-log curves by their exact formulas
(OCIO's own definitions; each op is tested against OCIO on values across and beyond its range). From the first
step that has no formula here (the ACES 2.0 output transform, LUT files, ...) the rest of the conversion is baked
with OCIO's CPU processor into a 97³ 3D LUT behind a log2 shaper - the same grid the CPU converter bakes
(:func:`~flashdepth_vfx.plates.colour.shaped_lut`) - and interpolated tetrahedrally, as OCIO does.

Parity with OCIO's exact CPU processor is measured per view in tests/test_device_colour.py (mean and 99.9th
percentile error in display values on real ACEScg plates); exact-formula views agree to float rounding.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import PyOpenColorIO as OCIO
import torch

from ..plates.colour import SHAPER_LOG2_RANGE, display_steps, resolve_display_view, shaped_lut

Op = Callable[[torch.Tensor], torch.Tensor]
DEVICE_LUT_SIZE = 97
"""Grid of the baked tail on the device: 97³ (one-off bake ~1 s) halves the 65³ grid's error on real plates
(Carrots, ACES 2.0 SDR: 99.9th percentile 0.0019 against 0.0055); memory and lookup cost are nothing on a GPU."""
_FLT_MIN = float(np.finfo(np.float32).tiny)  # OCIO's log ops clamp their argument to this


def _channels(values: object, device: torch.device) -> torch.Tensor:
    """Per-channel parameters (R, G, B) shaped to broadcast over (N, 3, H, W)."""
    return torch.tensor(list(values)[:3], dtype=torch.float32, device=device).view(1, 3, 1, 1)  # type: ignore[call-overload]


def _inverse(step: OCIO.Transform) -> bool:
    return step.getDirection() == OCIO.TRANSFORM_DIR_INVERSE


def _matrix(step: OCIO.MatrixTransform, device: torch.device) -> Op:
    m4 = np.array(step.getMatrix(), dtype=np.float64).reshape(4, 4)
    offset = np.array(step.getOffset(), dtype=np.float64)
    if np.any(m4[3, :3]) or np.any(m4[:3, 3]):
        raise NotImplementedError("alpha-mixing matrix")
    m: np.ndarray = m4[:3, :3]
    o: np.ndarray = offset[:3]
    if _inverse(step):
        m = np.linalg.inv(m)
        o = -m @ o
    rows = [[float(v) for v in row] for row in m]
    shift = [float(v) for v in o]

    def apply(x: torch.Tensor) -> torch.Tensor:
        # per-channel multiply-adds in float32, never a matmul: a GEMM would round to TF32 where that is enabled
        r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        return torch.cat([r * c[0] + g * c[1] + b * c[2] + s for c, s in zip(rows, shift)], dim=1)
    return apply


def _range(step: OCIO.RangeTransform, device: torch.device) -> Op:
    lo_in, hi_in, lo_out, hi_out = (step.getMinInValue(), step.getMaxInValue(), step.getMinOutValue(), step.getMaxOutValue())
    has = (step.hasMinInValue(), step.hasMaxInValue(), step.hasMinOutValue(), step.hasMaxOutValue())
    if _inverse(step):
        lo_in, hi_in, lo_out, hi_out = lo_out, hi_out, lo_in, hi_in
        has = (has[2], has[3], has[0], has[1])
    clamp = step.getStyle() == OCIO.RANGE_CLAMP
    if all(has):
        scale = (hi_out - lo_out) / (hi_in - lo_in)
        shift = lo_out - lo_in * scale
        low, high = lo_out, hi_out
    elif has == (True, False, True, False):
        scale, shift, low, high = 1.0, lo_out - lo_in, lo_out, None
    elif has == (False, True, False, True):
        scale, shift, low, high = 1.0, hi_out - hi_in, None, hi_out
    else:
        raise NotImplementedError("range without matching in/out bounds")
    if not clamp:
        low = high = None
    return lambda x: torch.clamp(x * scale + shift, low, high)


def _signed(f: Op, style: int, mirror: int) -> Op:
    """``f`` applied to |x| with the sign put back (OCIO's "mirror" negative style), else as is."""
    if style == mirror:
        return lambda x: torch.sign(x) * f(x.abs())
    return f


def _exponent_with_linear(step: OCIO.ExponentWithLinearTransform, device: torch.device) -> Op:
    """OCIO's moncurve: a power with an offset, and a straight segment through 0 that joins it smoothly."""
    g = np.array(step.getGamma()[:3], dtype=np.float64)
    o = np.array(step.getOffset()[:3], dtype=np.float64)
    if np.any(g <= 1.0) or np.any(o <= 0.0):
        raise NotImplementedError("degenerate moncurve")
    encoded_break = o / (g - 1.0)
    linear_break = ((o * g) / ((g - 1.0) * (1.0 + o))) ** g
    slope = linear_break / encoded_break  # of the straight segment, encoded -> linear
    gt, ot, eb, lb, st = (_channels(v, device) for v in (g, o, encoded_break, linear_break, slope))
    if _inverse(step):  # linear -> encoded
        def curve(x: torch.Tensor) -> torch.Tensor:
            return torch.where(x > lb, (1.0 + ot) * x.clamp(min=0).pow(1.0 / gt) - ot, x / st)
    else:
        def curve(x: torch.Tensor) -> torch.Tensor:
            return torch.where(x > eb, ((x + ot) / (1.0 + ot)).clamp(min=0).pow(gt), x * st)
    return _signed(curve, step.getNegativeStyle(), OCIO.NEGATIVE_MIRROR)


def _exponent(step: OCIO.ExponentTransform, device: torch.device) -> Op:
    values = np.array(step.getValue()[:3], dtype=np.float64)
    g = _channels(1.0 / values if _inverse(step) else values, device)
    style = step.getNegativeStyle()
    if style == OCIO.NEGATIVE_MIRROR:
        return lambda x: torch.sign(x) * x.abs().pow(g)
    if style == OCIO.NEGATIVE_PASS_THRU:
        return lambda x: torch.where(x < 0, x, x.clamp(min=0).pow(g))
    if style == OCIO.NEGATIVE_CLAMP:
        return lambda x: x.clamp(min=0).pow(g)
    raise NotImplementedError("exponent negative style")


def _log_curve(step: OCIO.LogAffineTransform | OCIO.LogCameraTransform, device: torch.device) -> Op:
    """log_side_slope * log_base(lin_side_slope * x + lin_side_offset) + log_side_offset; for camera logs a straight
    segment below the linear break, with OCIO's slope (matching the log curve's value and derivative there) unless set."""
    base = step.getBase()
    log_slope, log_offset = np.array(step.getLogSideSlopeValue()), np.array(step.getLogSideOffsetValue())
    lin_slope, lin_offset = np.array(step.getLinSideSlopeValue()), np.array(step.getLinSideOffsetValue())
    ls, lo, ks, ko = (_channels(v, device) for v in (log_slope, log_offset, lin_slope, lin_offset))
    ln_base = math.log(base)
    camera = isinstance(step, OCIO.LogCameraTransform)
    if camera:
        brk = np.array(step.getLinSideBreakValue())
        log_at_break = log_slope * np.log(lin_slope * brk + lin_offset) / ln_base + log_offset
        if step.isLinearSlopeValueSet():
            line_slope = np.array(step.getLinearSlopeValue())
        else:
            line_slope = log_slope * lin_slope / ((lin_slope * brk + lin_offset) * ln_base)
        line_offset = log_at_break - line_slope * brk
        kb, lb, ms, mo = (_channels(v, device) for v in (brk, log_at_break, line_slope, line_offset))
    if _inverse(step):  # log -> linear
        def to_linear(y: torch.Tensor) -> torch.Tensor:
            lin = (torch.pow(base, (y - lo) / ls) - ko) / ks
            return torch.where(y >= lb, lin, (y - mo) / ms) if camera else lin
        return to_linear

    def to_log(x: torch.Tensor) -> torch.Tensor:
        log = ls * torch.log(torch.clamp(ks * x + ko, min=_FLT_MIN)) / ln_base + lo
        return torch.where(x >= kb, log, ms * x + mo) if camera else log
    return to_log


_FORMULAS: dict[type, Callable[..., Op]] = {
    OCIO.MatrixTransform: _matrix,
    OCIO.RangeTransform: _range,
    OCIO.ExponentWithLinearTransform: _exponent_with_linear,
    OCIO.ExponentTransform: _exponent,
    OCIO.LogAffineTransform: _log_curve,
    OCIO.LogCameraTransform: _log_curve,
}


def exact_op(step: OCIO.Transform, device: torch.device) -> Op | None:
    """The torch op for one OCIO step by its exact formula, or None when there is none here."""
    build = _FORMULAS.get(type(step))
    if build is None:
        return None
    try:
        return build(step, device)
    except NotImplementedError:
        return None


def tetrahedral(lut: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Tetrahedral interpolation of ``lut`` (S, S, S, 3, indexed [r, g, b] over [0, 1]) at ``x`` (N, 3, H, W);
    inputs are clamped to [0, 1] as OCIO's Lut3D does."""
    size = lut.shape[0]
    n, _, h, w = x.shape
    p = x.permute(0, 2, 3, 1).reshape(-1, 3).clamp(0.0, 1.0) * (size - 1)
    base = p.floor().clamp_(max=size - 2)
    frac = p - base
    strides = torch.tensor([size * size, size, 1], device=x.device)
    corner = (base.long() * strides).sum(1)
    order = torch.argsort(frac, dim=1, descending=True)  # walk the cube edge by edge, largest fraction first
    f = torch.gather(frac, 1, order)
    steps = strides[order].cumsum(1)
    flat = lut.reshape(-1, 3)
    out = (1.0 - f[:, :1]) * flat[corner]
    out = out + (f[:, 0:1] - f[:, 1:2]) * flat[corner + steps[:, 0]]
    out = out + (f[:, 1:2] - f[:, 2:3]) * flat[corner + steps[:, 1]]
    out = out + f[:, 2:3] * flat[corner + steps[:, 2]]
    return out.reshape(n, h, w, 3).permute(0, 3, 1, 2)


class DeviceDisplayConverter:
    """Plate pixels (N, 3, H, W, any float type, on the device) -> display sRGB in [0, 1] (float32), on the device.

    ``exact`` says whether every step has its exact formula (else the tail is a baked LUT).
    """

    def __init__(self, config: OCIO.Config, colorspace: str, display: str | None = None, view: str | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.colorspace, self.display, self.view = resolve_display_view(config, colorspace, display, view)
        steps = display_steps(config, self.colorspace, self.display, self.view)
        self.ops: list[Op] = []
        tail: list[OCIO.Transform] = []
        for index, step in enumerate(steps):
            op = exact_op(step, self.device)
            if op is None:
                tail = steps[index:]
                break
            self.ops.append(op)
        self.exact = not tail
        self._lut = torch.from_numpy(shaped_lut(config, tail, DEVICE_LUT_SIZE)).to(self.device) if tail else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        for op in self.ops:
            x = op(x)
        if self._lut is not None:
            low, high = SHAPER_LOG2_RANGE
            shaped = (torch.log2(torch.clamp(x + 2.0 ** low, min=_FLT_MIN)) - low) / (high - low)
            x = tetrahedral(self._lut, shaped)
        return x.clamp_(0.0, 1.0)
