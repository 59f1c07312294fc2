"""The flow-based stabiliser: relation fits, the trend filter, drift removed, dolly kept, cuts, degenerate input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.errors import PlateError
from flashdepth_vfx.solve.stabilize import (
    StabilizeWarning,
    fit_relation,
    hp_lambda,
    stabilize,
    trend_filter,
)

H, W = 72, 128


def _shot(seed: int, frames: int = 12, motion: str | None = "truck", moving: bool = True):
    seq = render_sequence(SceneConfig(height=H, width=W, num_frames=frames, seed=seed, camera_motion=motion,
                                      moving_objects=moving))
    return seq.rgb, (1.0 / seq.depth).astype(np.float32)


def _scale_against(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame least-squares scale of ``pred_t ~ a_t truth_t + b_t``."""
    return np.array([np.cov(t.ravel(), p.ravel())[0, 1] / np.var(t.ravel(), ddof=1) for p, t in zip(pred, truth)])


def _quiet_stabilize(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabilizeWarning)
        return stabilize(*args, **kwargs)


def test_trend_filter_keeps_lines_and_removes_wiggles() -> None:
    t = np.arange(40, dtype=np.float64)
    line = 0.01 * t - 0.3
    np.testing.assert_allclose(trend_filter(line, 12.0), line, atol=1e-9)  # a steady dolly passes unchanged
    wiggle = 0.03 * (-1.0) ** t
    assert np.std(trend_filter(line + wiggle, 12.0) - line) < 0.1 * np.std(wiggle)
    # Against a dense solve of (I + lam D2'D2) x = y.
    y = np.random.default_rng(0).standard_normal(15)
    d2 = np.diff(np.eye(15), n=2, axis=0)
    dense = np.linalg.solve(np.eye(15) + hp_lambda(8.0) * d2.T @ d2, y)
    np.testing.assert_allclose(trend_filter(y, 8.0), dense, atol=1e-10)
    # A missing value (weight 0) is interpolated by the trend.
    weights = np.ones(40)
    weights[20] = 0.0
    holed = line.copy()
    holed[20] = 99.0
    assert trend_filter(holed, 12.0, weights)[20] == pytest.approx(line[20], abs=1e-9)
    with pytest.raises(ValueError, match="period"):
        hp_lambda(2.0)


def test_fit_relation_recovers_an_affine_map_through_outliers() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0.05, 0.5, 5000)
    y = 1.07 * x + 0.012 + 0.002 * rng.standard_normal(5000)
    moving = rng.random(5000) < 0.2  # a fifth of the pixels on something that moves: unrelated disparities
    y[moving] = rng.uniform(0.05, 0.6, moving.sum())
    fit = fit_relation(x, y, rng)
    assert fit is not None
    assert fit.scale == pytest.approx(1.07, abs=3e-3)
    assert fit.shift == pytest.approx(0.012, abs=1e-3)
    assert 0.75 * 5000 < fit.inliers < 0.85 * 5000
    assert fit_relation(np.full(5000, 0.2), y, rng) is None  # one flat disparity: scale and shift inseparable
    assert fit_relation(x[:50], y[:50], rng) is None          # too few correspondences


def test_known_affine_drift_between_frames_is_recovered() -> None:
    rgb, truth = _shot(3, frames=3, motion="static", moving=False)
    drifted = truth.copy()
    drifted[1] = 1.1 * truth[1] + 0.01
    result = _quiet_stabilize(list(drifted), list(rgb))
    assert result.pair_scale[1] == pytest.approx(1.1, abs=2e-3)
    assert result.pair_shift[1] == pytest.approx(0.01, abs=1e-3)
    assert result.pair_scale[2] == pytest.approx(1 / 1.1, abs=2e-3)
    assert result.correspondences[1] > 1000 and result.correspondences[0] == 0


def test_high_frequency_drift_falls_and_exact_disparity_is_left_alone() -> None:
    rgb, truth = _shot(1_000_001, frames=16)
    jitter = 1.0 + 0.03 * np.random.default_rng(2).standard_normal(16)
    drifted = jitter[:, None, None] * truth + 0.002 * np.random.default_rng(3).standard_normal(16)[:, None, None]
    result = _quiet_stabilize(list(drifted), list(rgb))
    out = np.stack([result.apply(t, d) for t, d in enumerate(drifted)])
    before = np.std(np.diff(np.log(_scale_against(drifted, truth))))
    after = np.std(np.diff(np.log(_scale_against(out, truth))))
    assert after < 0.3 * before
    assert result.segments == [(0, 16)] and not result.warnings
    untouched = _quiet_stabilize(list(truth), list(rgb))
    np.testing.assert_allclose(untouched.scale, 1.0, atol=1e-2)  # what flow and fit noise leave: under 1%
    np.testing.assert_allclose(untouched.shift, 0.0, atol=1e-2 * float(np.median(truth)))


def test_a_dolly_is_kept() -> None:
    """Disparity growing 2% a frame, consistently (objects getting nearer), is motion: nothing is corrected."""
    rgb, truth = _shot(5, frames=12, motion="static", moving=False)
    growing = (1.02 ** np.arange(12))[:, None, None] * truth
    result = _quiet_stabilize(list(growing), list(rgb))
    assert np.diff(result.raw_log_scale) == pytest.approx(np.full(11, np.log(1.02)), abs=2e-3)
    np.testing.assert_allclose(result.scale, 1.0, atol=1e-3)
    out = np.stack([result.apply(t, d) for t, d in enumerate(growing)])
    np.testing.assert_allclose(np.diff(np.log(_scale_against(out, truth))), np.log(1.02), atol=1e-3)


def test_cuts_restart_the_path() -> None:
    rgb_a, truth_a = _shot(11, frames=6)
    rgb_b, truth_b = _shot(12, frames=6, motion="pan")
    rgb, truth = np.concatenate([rgb_a, rgb_b]), np.concatenate([truth_a, truth_b])
    result = _quiet_stabilize(list(truth), list(rgb), cuts=[6])
    assert result.segments == [(0, 6), (6, 12)]
    assert result.correspondences[6] == 0 and np.isnan(result.pair_scale[6])
    assert result.raw_log_scale[6] == pytest.approx(0.0, abs=1e-9)  # the second shot starts its own path
    assert result.raw_shift[6] == pytest.approx(0.0, abs=1e-9)
    with pytest.warns(StabilizeWarning, match="5-6"):  # an unflagged cut breaks the path too, and says where
        unflagged = stabilize(list(truth), list(rgb))
    assert (6, 12) in unflagged.segments or unflagged.correspondences[6] == 0


def test_textureless_plates_fall_back_to_identity_with_a_warning() -> None:
    _, truth = _shot(4, frames=5)
    grey = [np.full((H, W, 3), 0.5, np.float32)] * 5
    with pytest.warns(StabilizeWarning, match="left as they are"):
        result = stabilize(list(truth), grey)
    np.testing.assert_array_equal(result.scale, 1.0)
    np.testing.assert_array_equal(result.shift, 0.0)


def test_tiny_frames_fall_back_to_identity_with_a_warning() -> None:
    rng = np.random.default_rng(0)
    plates = list(rng.random((4, 8, 8, 3), np.float32))
    with pytest.warns(StabilizeWarning, match="0-3"):
        result = stabilize(list(rng.random((4, 8, 8), np.float32)), plates)
    np.testing.assert_array_equal(result.scale, 1.0)


def test_nan_disparity_frames_are_left_alone_and_others_still_stabilised() -> None:
    rgb, truth = _shot(6, frames=8)
    data = truth.copy()
    data[3] = np.nan                 # a broken frame
    data[5, :10, :10] = np.nan       # a few unknown pixels are fine
    with pytest.warns(StabilizeWarning, match="frames 3 "):
        result = stabilize(list(data), list(rgb))
    assert result.scale[3] == 1.0 and result.shift[3] == 0.0
    assert np.all(np.isfinite(result.scale)) and np.all(np.isfinite(result.shift))
    assert result.correspondences[5] > 0 and result.correspondences[6] > 0
    assert result.segments == [(0, 3), (4, 8)]  # the broken frame splits the path
    bridged = _quiet_stabilize(list(data), list(rgb), hops=2)  # two-frame relations step over the broken frame
    assert bridged.segments == [(0, 8)] and bridged.scale[3] == 1.0


def test_plates_at_another_size_are_resampled() -> None:
    rgb, truth = _shot(7, frames=4, motion="static", moving=False)
    big = np.repeat(np.repeat(rgb, 2, axis=1), 2, axis=2)
    drifted = truth.copy()
    drifted[2] *= 1.05
    result = _quiet_stabilize(list(drifted), list(big))
    assert result.pair_scale[2] == pytest.approx(1.05, abs=3e-3)


def test_bad_arguments_are_clear_errors() -> None:
    rgb, truth = _shot(8, frames=3)
    with pytest.raises(PlateError, match="one plate per disparity frame"):
        stabilize(list(truth), list(rgb[:2]))
    with pytest.raises(PlateError, match="No disparity frames"):
        stabilize([], [])
    with pytest.raises(ValueError, match="outside"):
        stabilize(list(truth), list(rgb), cuts=[5])
    with pytest.raises(PlateError, match="frame 1 has shape"):
        stabilize([truth[0], rgb[1], truth[2]], list(rgb))


def test_frames_with_more_than_32767_matches_are_related() -> None:
    """OpenCV's remap takes maps under 32767 a side: a pair of 180x320 frames (~50 000 trusted matches) failed."""
    seq = render_sequence(SceneConfig(height=180, width=320, num_frames=3, seed=3, camera_motion="truck",
                                      moving_objects=False))
    disparity = (1.0 / seq.depth).astype(np.float32)
    disparity[1] = 1.03 * disparity[1] + 0.01
    result = _quiet_stabilize(disparity, seq.rgb)
    assert result.correspondences[1] > 1000 and result.correspondences[2] > 1000  # inliers of the subset fitted
    assert result.pair_scale[1] == pytest.approx(1.03, rel=0.01)


def test_a_set_cancel_event_stops_before_the_next_frame() -> None:
    import threading

    from flashdepth_vfx.errors import Cancelled

    rgb, disparity = _shot(1, frames=4)
    cancel, taken = threading.Event(), []

    def progress(index: int, total: int) -> None:
        taken.append(index)
        if index == 1:
            cancel.set()

    with pytest.raises(Cancelled):
        _quiet_stabilize(disparity, rgb, cancel=cancel, progress=progress)
    assert taken == [0, 1]  # frame 1's flow never ran
