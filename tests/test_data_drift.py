"""Injected affine drift: the drift is what it says (white noise around a slow trend), deterministic, and undoable."""
from __future__ import annotations

import numpy as np
import pytest

from flashdepth_vfx.data.drift import inject_drift, sample_drift


def test_drift_has_the_requested_noise_and_trend() -> None:
    drift = sample_drift(4000, seed=3, scale_noise=0.03, trend=0.1, shift_noise=0.02, reference_disparity=0.5)
    assert drift.trend[0] == pytest.approx(1.0) and drift.trend[-1] == pytest.approx(1.1)
    white = drift.scale / drift.trend - 1.0
    assert np.std(white) == pytest.approx(0.03, rel=0.05)
    assert abs(np.mean(white)) < 0.003
    assert np.std(drift.shift) == pytest.approx(0.02 * 0.5, rel=0.05)
    # white: neighbouring frames are uncorrelated
    assert abs(np.corrcoef(white[1:], white[:-1])[0, 1]) < 0.05


def test_inject_is_deterministic_and_undo_restores_the_frames() -> None:
    rng = np.random.default_rng(0)
    disparity = rng.uniform(0.02, 0.5, (6, 8, 9)).astype(np.float32)
    drifted, drift = inject_drift(disparity, seed=5)
    again, _ = inject_drift(disparity, seed=5)
    other, _ = inject_drift(disparity, seed=6)
    assert np.array_equal(drifted, again) and not np.allclose(drifted, other)
    np.testing.assert_allclose(drift.undo(drifted), disparity, rtol=1e-5, atol=1e-6)
    for t in range(6):  # each frame is one affine map of its truth
        a, b = np.polyfit(disparity[t].ravel(), drifted[t].ravel(), 1)
        assert a == pytest.approx(drift.scale[t], rel=1e-5) and b == pytest.approx(drift.shift[t], abs=1e-6)


def test_pixel_noise_is_relative_to_the_median_disparity() -> None:
    disparity = np.full((3, 50, 50), 0.25, np.float32)
    drifted, drift = inject_drift(disparity, seed=1, scale_noise=0.0, trend=0.0, shift_noise=0.0, pixel_noise=0.01)
    assert np.std(drifted - 0.25) == pytest.approx(0.0025, rel=0.1)
    assert np.all(drift.scale == 1.0)
