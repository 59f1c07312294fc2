"""OCIO display conversions as torch ops against OCIO's own CPU processor: each exact formula, and every view of
the studio config on real plates (display values, mean and 99.9th percentile error)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import PyOpenColorIO as OCIO
import pytest
import torch

from flashdepth_vfx.engine.device_colour import DeviceDisplayConverter, exact_op, tetrahedral
from flashdepth_vfx.plates import load_config, read_plate
from flashdepth_vfx.plates.colour import display_steps

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def studio() -> OCIO.Config:
    return load_config("ocio://studio-config-latest")


def _ocio(config: OCIO.Config, transform: OCIO.Transform, rgb: np.ndarray) -> np.ndarray:
    out = np.array(rgb, dtype=np.float32, copy=True)
    config.getProcessor(transform).getDefaultCPUProcessor().applyRGB(out)
    return out


def _torch(op, rgb: np.ndarray) -> np.ndarray:
    return op(torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None])[0].permute(1, 2, 0).numpy()


def _exact_display(config: OCIO.Config, space: str, view: str, rgb: np.ndarray) -> np.ndarray:
    transform = OCIO.DisplayViewTransform(src=space, display=config.getDefaultDisplay(), view=view)
    return np.clip(_ocio(config, transform, rgb), 0.0, 1.0)


@pytest.mark.parametrize("space", ["ACEScg", "ACEScct", "ARRI LogC4", "sRGB Encoded Rec.709 (sRGB)"])
@pytest.mark.parametrize("direction", [OCIO.TRANSFORM_DIR_FORWARD, OCIO.TRANSFORM_DIR_INVERSE])
def test_each_formula_matches_ocio_across_and_beyond_its_range(studio, space, direction) -> None:
    values = np.random.default_rng(0).uniform(-2.0, 4.0, (32, 48, 3)).astype(np.float32)
    display = studio.getDefaultDisplay()
    steps = display_steps(studio, space, display, studio.getDefaultView(display, space))
    tested = 0
    for step in steps:
        step.setDirection(direction)
        op = exact_op(step, CPU)
        if op is None:
            assert isinstance(step, OCIO.FixedFunctionTransform)  # the ACES 2.0 output transform is baked
            continue
        want = _ocio(studio, step, values)
        got = _torch(op, values)
        # OCIO's CPU code uses a fast pow (relative error ~2e-5); everything else is float rounding
        np.testing.assert_allclose(got, want, rtol=5e-5, atol=5e-6, err_msg=f"{type(step).__name__} {direction}")
        tested += 1
    assert tested >= 2


def test_tetrahedral_interpolation_is_exact_on_a_linear_lut_and_on_grid_points() -> None:
    axis = torch.linspace(0, 1, 5)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)
    affine = grid @ torch.tensor([[0.5, 0.2, 0.1], [0.1, 0.7, 0.0], [0.3, 0.0, 0.9]]) + 0.05
    x = torch.rand(1, 3, 7, 9)
    want = (x.permute(0, 2, 3, 1) @ torch.tensor([[0.5, 0.2, 0.1], [0.1, 0.7, 0.0], [0.3, 0.0, 0.9]]) + 0.05).permute(0, 3, 1, 2)
    torch.testing.assert_close(tetrahedral(affine, x), want, rtol=1e-5, atol=1e-6)
    lut = torch.rand(5, 5, 5, 3)
    on_grid = torch.tensor([[0.25, 1.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.75, 0.25]]).T.reshape(1, 3, 1, 3)
    got = tetrahedral(lut, on_grid)[0, :, 0].T
    torch.testing.assert_close(got, torch.stack([lut[1, 4, 0], lut[4, 4, 4], lut[2, 3, 1]]))


REAL_PLATES = ["basic/Carrots.exr", "basic/stripes.exr", "tiled/PeriodicPattern.exr", "windows/v1.7.test.1.exr"]


@pytest.mark.parametrize("view", ["ACES 2.0 - SDR 100 nits (Rec.709)", "Un-tone-mapped", "Video (colorimetric)", "Raw"])
def test_every_view_matches_ocio_on_real_acescg_plates(studio, testdata_dir: Path, view) -> None:
    convert = DeviceDisplayConverter(studio, "ACEScg", view=view, device=CPU)
    assert convert.exact == (view != "ACES 2.0 - SDR 100 nits (Rec.709)")
    for name in REAL_PLATES:
        rgb = read_plate(testdata_dir / "exr" / name).rgb
        error = np.abs(_torch(convert, rgb) - _exact_display(studio, "ACEScg", view, rgb))
        mean, p999 = float(error.mean()), float(np.percentile(error, 99.9))
        if convert.exact:
            assert mean < 1e-5 and p999 < 5e-5, (name, mean, p999)
        else:
            assert mean <= 0.001 and p999 <= 0.005, (name, mean, p999)


def test_half_input_and_log_plates(studio, testdata_dir: Path) -> None:
    """Plates uploaded as half floats convert like their float values; a log space goes through its exact curve
    before the baked ACES 2.0 step."""
    rgb = read_plate(testdata_dir / "exr/basic/Carrots.exr").rgb
    half = torch.from_numpy(rgb.astype(np.float16).transpose(2, 0, 1).copy())[None]
    convert = DeviceDisplayConverter(studio, "ACEScg", device=CPU)
    got = convert(half)[0].permute(1, 2, 0).numpy()
    assert got.dtype == np.float32
    error = np.abs(got - _exact_display(studio, "ACEScg", convert.view, rgb.astype(np.float16).astype(np.float32)))
    assert error.mean() <= 0.001 and np.percentile(error, 99.9) <= 0.005
    cct = DeviceDisplayConverter(studio, "ACEScct", device=CPU)
    assert not cct.exact and len(cct.ops) == 3  # log curve, range, matrix exact; the rest baked
    encoded = np.clip(rgb * 0.5 + 0.2, 0, 1).astype(np.float32)
    error = np.abs(_torch(cct, encoded) - _exact_display(studio, "ACEScct", cct.view, encoded))
    assert error.mean() <= 0.001 and np.percentile(error, 99.9) <= 0.005


def test_saturated_primaries_are_where_the_baked_lut_is_worst(studio) -> None:
    """Pure primaries with a channel at zero sit where the ACES 2.0 gamut mapper bends sharply: the LUT's error
    grows there (documented; --exact-colour uses OCIO's processor instead)."""
    ramp = np.geomspace(0.01, 16.0, 64, dtype=np.float32)
    primaries = np.zeros((3, 64, 3), np.float32)
    for c in range(3):
        primaries[c, :, c] = ramp
    convert = DeviceDisplayConverter(studio, "ACEScg", device=CPU)
    error = np.abs(_torch(convert, primaries) - _exact_display(studio, "ACEScg", convert.view, primaries))
    assert 0.005 < float(error.max()) < 0.1


def test_colour_matrices_are_multiply_adds_that_tf32_cannot_round(studio) -> None:
    """The 3x3 matrices run as per-channel float32 multiply-adds, never a matmul (which CUDA rounds to TF32 when it
    is on: up to 1.2e-3 extra error in display values); the result is the float64 product to float32 rounding."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class AtenOps(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: set[str] = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            self.ops.add(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    matrix = OCIO.MatrixTransform()
    m = np.array([[0.7, 0.2, 0.1, 0], [0.05, 0.9, 0.05, 0], [0.01, 0.09, 0.9, 0], [0, 0, 0, 1]])
    matrix.setMatrix(m.ravel().tolist())
    matrix.setOffset([0.01, -0.02, 0.03, 0.0])
    values = np.random.default_rng(1).uniform(-1.0, 8.0, (24, 40, 3)).astype(np.float32)
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        op = exact_op(matrix, CPU)
        assert op is not None
        with AtenOps() as seen:
            got = _torch(op, values)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
    assert not seen.ops & {"mm", "bmm", "addmm", "matmul", "einsum", "baddbmm", "_unsafe_view"} and "mul" in seen.ops
    want = values.astype(np.float64) @ m[:3, :3].T + np.array([0.01, -0.02, 0.03])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    studio_ops = DeviceDisplayConverter(studio, "ACEScg", device=CPU).ops  # and a config's own matrices
    with AtenOps() as seen:
        studio_ops[0](torch.rand(1, 3, 4, 4))
    assert not seen.ops & {"mm", "bmm", "addmm"}
