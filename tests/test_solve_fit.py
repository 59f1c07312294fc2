"""The robust joint fit: known (a, b) recovered through outliers, gaps filled from neighbours, cuts restart the
smoothing; point and anchor readers; observations from projection."""
from __future__ import annotations

import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom

from flashdepth_vfx.errors import SolveError
from flashdepth_vfx.solve.fit import fit_frame, frames_without_references, least_median_fit, solve_shot
from flashdepth_vfx.solve.observations import Observations, anchor_observations, point_observations, sample_bilinear
from flashdepth_vfx.solve.points import read_anchors, read_points


def _frame(a: float, b: float, n: int, rng: np.random.Generator, outliers: float = 0.0,
           noise: float = 0.0) -> Observations:
    inverse = 1.0 / rng.uniform(2.0, 60.0, n)
    disparity = (inverse - b) / a
    measured = inverse * (1 + noise * rng.standard_normal(n))
    bad = rng.random(n) < outliers
    measured[bad] *= rng.uniform(0.3, 3.0, bad.sum())  # tracks on moving objects: wildly wrong depths
    return Observations(disparity, measured)


def test_one_frame_recovers_a_and_b_through_fifteen_percent_outliers() -> None:
    rng = np.random.default_rng(1)
    obs = _frame(0.37, 0.012, 80, rng, outliers=0.15, noise=0.002)
    (a, b), inliers = fit_frame(obs)
    assert a == pytest.approx(0.37, rel=2e-3) and b == pytest.approx(0.012, abs=2e-4)
    truth = np.abs(obs.inverse_depth * (obs.disparity * 0.37 + 0.012) ** -1 - 1) < 0.01
    assert np.array_equal(inliers, truth)  # exactly the wrong tracks are rejected


def test_least_median_fit_is_exact_on_clean_data() -> None:
    rng = np.random.default_rng(2)
    obs = _frame(2.0, -0.003, 10, rng, outliers=0.3)
    rows = np.stack([obs.disparity, np.ones(len(obs))], axis=1)
    np.testing.assert_allclose(least_median_fit(rows, obs.inverse_depth, rng), [2.0, -0.003], rtol=1e-9, atol=1e-12)
    assert least_median_fit(rows[:1], obs.inverse_depth[:1], rng) is None
    # the disparity residual recovers the same line through the outliers
    fit = solve_shot([obs], residual="disparity")
    assert (fit.scale[0], fit.shift[0]) == (pytest.approx(2.0, rel=1e-6), pytest.approx(-0.003, abs=1e-8))


def test_smoothing_fills_frames_without_points_from_their_neighbours() -> None:
    rng = np.random.default_rng(3)
    scales = np.linspace(1.0, 1.2, 30)  # a slow trend the gap must follow
    obs = [_frame(a, 0.0, 0 if 10 <= t < 20 else 40, rng) for t, a in enumerate(scales)]
    fit = solve_shot(obs)
    np.testing.assert_allclose(fit.scale, scales, rtol=2e-3)  # linear across the gap
    assert list(fit.points[9:21]) == [40] + [0] * 10 + [40]
    assert np.isnan(fit.residual[10:20]).all() and np.all(fit.residual[:10] < 1e-6)
    # white per-frame drift is followed where there are points (the prior only fills gaps)
    jitter = 1 + 0.03 * rng.standard_normal(30)
    fit = solve_shot([_frame(a, 0.0, 40, rng, noise=0.002) for a in jitter])
    assert np.max(np.abs(fit.scale / jitter - 1)) < 0.003


def test_cuts_restart_the_smoothing() -> None:
    rng = np.random.default_rng(4)
    scales = [1.0] * 10 + [2.0] * 10
    obs = [_frame(a, 0.0, 0 if t in (10, 11, 12) else 30, rng) for t, a in enumerate(scales)]
    with_cut = solve_shot(obs, cuts=[10])
    np.testing.assert_allclose(with_cut.scale, scales, rtol=1e-4)
    assert with_cut.segments == [(0, 10), (10, 20)]
    without = solve_shot(obs)
    assert without.scale[10] < 1.5  # interpolated across the cut: wrong, which is why cuts restart it
    assert frames_without_references(obs, [10]) == ([10, 11, 12], [])
    assert frames_without_references(obs[:13], [10])[1] == [(10, 13)]


def test_point_observations_skip_points_behind_or_outside() -> None:
    k = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    disparity = np.tile(np.arange(100, dtype=np.float32), (80, 1))  # disparity = column index
    points = np.array([[0.0, 0.0, 10.0], [0.2, 0.1, 5.0], [0.0, 0.0, -3.0], [40.0, 0.0, 10.0]])
    obs = point_observations(points, np.eye(4), k, disparity)
    np.testing.assert_allclose(obs.inverse_depth, [0.1, 0.2])
    np.testing.assert_allclose(obs.disparity, [49.5, 53.5])  # pixel 50 -> column centre 49.5; 50 + 4 = 54 -> 53.5
    assert obs.behind == 1
    assert sample_bilinear(disparity, np.array([[0.0, 0.0], [99.9, 79.9]])).tolist() == [0.0, 99.0]


def test_anchor_distance_becomes_depth_through_the_lens(tmp_path) -> None:
    k = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
    path = tmp_path / "anchors.csv"
    path.write_text("frame,x,y,distance\n7,50,50,10\n7,150,50,5\n8,50,50,3\n7,999,50,4\n")
    anchors = read_anchors(path)
    obs = anchor_observations(anchors, 7, np.ones((100, 200), np.float32), k)
    np.testing.assert_allclose(1 / obs.inverse_depth, [10.0, 5.0 / np.sqrt(2.0)])  # 100 px right = 45 degrees
    path.write_text("x,y,z,frame\n50,10,4,7\n")
    flipped = read_anchors(path, image_height=100, origin="bottom-left")
    assert flipped.kind == "z" and flipped.xy.tolist() == [[50.0, 90.0]] and flipped.frames.tolist() == [7]


def test_point_readers(tmp_path) -> None:
    expected = np.array([[1.0, 2.0, 3.0], [-4.0, 5.5, 6e-3]])
    (tmp_path / "a.csv").write_text("name,z,x,y\np1,3,1,2\np2,6e-3,-4,5.5\n")
    (tmp_path / "b.csv").write_text("1,2,3\n-4,5.5,0.006\n")
    (tmp_path / "c.obj").write_text("# tracker export\nv 1 2 3\nvn 0 1 0\nv -4 5.5 0.006\nf 1 2 1\n")
    stage = Usd.Stage.CreateNew(str(tmp_path / "d.usda"))
    parent = UsdGeom.Xform.Define(stage, "/tracks")
    parent.AddTranslateOp().Set(Gf.Vec3d(1.0, 0.0, 0.0))
    UsdGeom.Points.Define(stage, "/tracks/cloud").CreatePointsAttr([Gf.Vec3f(0, 2, 3), Gf.Vec3f(-5, 5.5, 0.006)])
    stage.GetRootLayer().Save()
    for name in ("a.csv", "b.csv", "c.obj", "d.usda"):
        np.testing.assert_allclose(read_points(tmp_path / name), expected, rtol=1e-6, err_msg=name)


def test_bad_point_and_anchor_files_give_one_line_errors(tmp_path) -> None:
    (tmp_path / "bad.csv").write_text("x,y,z\n1,2,three\n")
    (tmp_path / "noz.csv").write_text("x,y\n1,2\n")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    (tmp_path / "anchors.csv").write_text("frame,x,y,distance\n1,2,3,-4\n")
    cases = [
        (lambda: read_points(tmp_path / "bad.csv"), "line 2: not numbers"),
        (lambda: read_points(tmp_path / "noz.csv"), "no column z"),
        (lambda: read_points(tmp_path / "empty.obj"), "holds no vertices"),
        (lambda: read_points(tmp_path / "missing.csv"), "does not exist"),
        (lambda: read_points(tmp_path / "pts.ply"), "unknown point file type"),
        (lambda: read_anchors(tmp_path / "anchors.csv"), "row 1 has a distance that is not a positive number"),
    ]
    for call, text in cases:
        with pytest.raises(SolveError, match=text) as info:
            call()
        assert "\n" not in str(info.value)
