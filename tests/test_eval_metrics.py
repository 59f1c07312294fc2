"""Evaluation metrics on cases worked out by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.errors import PlateError
from flashdepth_vfx.eval.metrics import (
    FitStats,
    abs_rel,
    boundary_f1,
    delta1,
    evaluate_sequence,
    fit_scale_shift,
    flicker,
    scale_spread,
)

RNG = np.random.default_rng(0)


def _gt_with_invalid_pixels(frames: int = 3) -> np.ndarray:
    depth = RNG.uniform(1.0, 100.0, (8, 10))  # some beyond the 70 m clip
    depth[0, 0], depth[1, 1], depth[2, 2] = 0.0, np.inf, np.nan
    return np.repeat(depth[None], frames, axis=0)


def _disparity(gt: np.ndarray) -> np.ndarray:
    """Ground-truth disparity as the protocol defines it (inf / NaN where the depth is invalid)."""
    with np.errstate(divide="ignore"):
        return 1.0 / np.minimum(gt, 70.0)


def test_affine_disparity_prediction_is_perfect_after_alignment() -> None:
    gt = _gt_with_invalid_pixels()
    gt_disparity = _disparity(gt)
    pred = 2.0 * gt_disparity + 0.5
    pred[~np.isfinite(pred)] = 123.0  # whatever the model says where there is no ground truth
    result = evaluate_sequence(pred, gt)
    assert result.abs_rel == pytest.approx(0.0, abs=1e-9)
    assert result.delta1 == 1.0
    assert (result.scale, result.shift) == (pytest.approx(0.5), pytest.approx(-0.25))
    assert result.boundary_f1 == pytest.approx(1.0)
    assert result.scale_spread == pytest.approx(0.0, abs=1e-9)
    assert result.flicker == pytest.approx(0.0, abs=1e-9)
    assert result.per_frame_abs_rel == [pytest.approx(0.0, abs=1e-9)] * 3


def test_per_frame_flicker_points_at_the_frame_that_jumps() -> None:
    gt = np.broadcast_to(np.linspace(5.0, 20.0, 8), (4, 6, 8)).copy()  # a static slanted wall, 5 to 20 m
    pred = 1.0 / gt  # its disparity, exactly ...
    pred[2, :3] /= 1.02  # ... except frame 2, whose top half reads 2% farther
    result = evaluate_sequence(pred, gt)
    first, *pairs = result.per_frame_flicker
    assert math.isnan(first)  # no frame before the first
    # the sequence fit is slightly off 1 (scale 1.002): the jump frame 2 and the return frame 3 each carry half
    # the pixels changing by 2%, the unchanged pair 1 nothing.
    assert pairs[0] == pytest.approx(0.0, abs=1e-6)
    assert pairs[1] == pytest.approx(pairs[2], rel=0.03) and pairs[1] == pytest.approx(0.01, rel=0.05)
    assert result.flicker == pytest.approx(np.mean(pairs), rel=1e-9)  # every pair has the same static pixels
    assert json.loads(json.dumps(result.to_dict()))["per_frame"]["flicker"][0] is None


def test_depth_kind_prediction_is_inverted_before_alignment() -> None:
    gt = _gt_with_invalid_pixels()
    pred_depth = 1.0 / (3.0 * _disparity(gt) + 0.1)  # an affine disparity, handed over as depth
    result = evaluate_sequence(pred_depth, gt, pred_kind="depth")
    assert result.abs_rel == pytest.approx(0.0, abs=1e-9)
    assert result.delta1 == 1.0
    # the same numbers read as disparity are not affine in the ground truth's disparity
    assert evaluate_sequence(pred_depth, gt, pred_kind="disparity").abs_rel > 0.05


def test_abs_rel_and_delta1_on_a_2x2_case() -> None:
    gt = np.array([[1.0, 2.0], [4.0, 8.0]])
    pred = np.array([[1.2, 2.0], [4.0, 6.0]])  # ratios 1.2, 1, 1, 1.333
    everywhere = np.ones((2, 2), bool)
    assert delta1(pred, gt, everywhere) == 0.75
    assert abs_rel(pred, gt, everywhere) == pytest.approx((0.2 + 0.25) / 4)
    without_last = np.array([[True, True], [True, False]])
    assert delta1(pred, gt, without_last) == 1.0
    assert math.isnan(delta1(pred, gt, np.zeros((2, 2), bool)))


def test_least_squares_scale_and_shift() -> None:
    mask = np.ones(3, bool)
    assert fit_scale_shift(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]), mask) == pytest.approx((2.0, 1.0))
    assert fit_scale_shift(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 6.0]), mask) == pytest.approx((2.5, 0.5))
    assert fit_scale_shift(np.full(3, 7.0), np.array([1.0, 2.0, 6.0]), mask) == (0.0, 3.0)  # constant prediction


def test_one_alignment_for_the_whole_sequence() -> None:
    gt = _gt_with_invalid_pixels(frames=2)
    pred = _disparity(gt)
    pred[1] *= 3.0  # the second frame drifted in scale: a per-frame alignment would hide it
    result = evaluate_sequence(pred, gt)
    assert result.abs_rel > 0.1 and result.per_frame_abs_rel[0] > 0.1 and result.per_frame_abs_rel[1] > 0.1


def test_scale_spread_hand_worked() -> None:
    gt_disparity = np.tile(np.array([1.0, 3.0]), (2, 4, 2))  # each frame: half at disparity 1, half at 3
    mask = np.ones(gt_disparity.shape, bool)
    depth = 1.0 / gt_disparity
    same_scale = np.stack([gt_disparity[0] / 2 + 1.0, gt_disparity[1] / 2 - 0.3])  # shifts differ, scales do not
    frame_scales = [fit_scale_shift(p, g, m)[0] for p, g, m in zip(same_scale, gt_disparity, mask)]
    assert frame_scales == [pytest.approx(2.0), pytest.approx(2.0)]
    assert scale_spread(frame_scales, sequence_scale=2.0) == pytest.approx(0.0, abs=1e-12)
    assert evaluate_sequence(same_scale, depth).scale_spread == pytest.approx(0.0, abs=1e-12)
    # frame scales 1 and 2 (std 0.5); the joint fit of [d, d/2] onto [d, d] has scale 0.75 v / (0.625 v + 0.0625 m^2)
    # with mean m = 2 and variance v = 1, i.e. 6/7; so the spread is 0.5 / (6/7) = 7/12
    drifting = np.stack([gt_disparity[0], gt_disparity[1] / 2])
    sequence_scale, _ = fit_scale_shift(drifting, gt_disparity, mask)
    assert sequence_scale == pytest.approx(6 / 7)
    assert scale_spread([1.0, 2.0], sequence_scale) == pytest.approx(7 / 12)
    result = evaluate_sequence(drifting, depth)
    assert result.scale == pytest.approx(6 / 7) and result.scale_spread == pytest.approx(7 / 12)
    assert math.isnan(scale_spread([1.0], 1.0))


def test_merged_fit_statistics_equal_one_fit_over_all_pixels() -> None:
    pred, target = RNG.normal(size=(3, 50)), RNG.normal(size=(3, 50))
    target += 4.0 * pred + np.array([[0.0], [5.0], [-3.0]])  # frames with different offsets
    merged = FitStats.of(pred[0], target[0])
    for frame in (1, 2):
        merged = merged.merge(FitStats.of(pred[frame], target[frame]))
    stacked = np.polyfit(pred.ravel(), target.ravel(), 1)  # numpy's own least-squares line
    assert merged.fit() == (pytest.approx(stacked[0]), pytest.approx(stacked[1]))
    assert FitStats.of(np.full(4, 0.1), np.arange(4.0)).fit() == (0.0, 1.5)  # constant prediction: no scale


def test_flicker_hand_worked() -> None:
    gt = np.full((2, 4, 4), 5.0)
    gt[1, :2] = 7.5  # the top half moves (50% depth change): not static
    mask = np.ones(gt.shape, bool)
    aligned = gt.copy()
    assert flicker(aligned, gt, mask) == 0.0
    aligned[1] = gt[1] * 1.1  # every pixel's prediction jumps 10%
    aligned[1, :2] = 99.0  # ... and the moving half is way off, which flicker ignores
    assert flicker(aligned, gt, mask) == pytest.approx(0.1)
    gt[1, 2:] *= 1.005  # a 0.5% ground-truth change still counts as static; only the excess change is flicker
    aligned[1, 2:] = gt[1, 2:] + 0.1 * gt[1, 2:]
    assert flicker(aligned, gt, mask) == pytest.approx(0.1)
    assert math.isnan(flicker(aligned, gt, np.zeros(gt.shape, bool)))


def _step(ratio: float = 2.0) -> np.ndarray:
    depth = np.full((6, 8), 2.0)
    depth[:, 4:] *= ratio  # one vertical edge: only "right neighbour further" relations
    return depth


def _patch() -> np.ndarray:
    depth = np.full((6, 6), 4.0)
    depth[2:4, 2:4] = 2.0  # a square in front: edges in all four directions, two pixel pairs each
    return depth


def test_boundary_f1_of_a_step_edge() -> None:
    step = _step()
    assert boundary_f1(step, step) == pytest.approx(1.0)
    assert boundary_f1(np.full_like(step, 3.0), step) == 0.0
    assert boundary_f1(3.7 * step, step) == pytest.approx(1.0)  # scale invariant
    shifted = np.roll(step, 1, axis=1)
    shifted[:, 0] = 2.0
    assert boundary_f1(shifted, step) == 0.0  # one pixel off is a miss, as in Depth Pro
    assert math.isnan(boundary_f1(np.ones((4, 4)), np.ones((4, 4))))  # no boundaries to score


def test_boundary_f1_partial_match_hand_worked() -> None:
    gt = _patch()
    pred = gt.copy()
    pred[2:4, 2:] = 2.0  # the square runs off the right border: its right edge is gone, top/bottom edges too long
    # per direction (precision, recall): left edge (1, 1); right edge (0, 0); upper (2/4, 1); lower (2/4, 1)
    precision, recall = (1 + 0 + 0.5 + 0.5) / 4, (1 + 0 + 1 + 1) / 4
    assert boundary_f1(pred, gt) == pytest.approx(2 * precision * recall / (precision + recall))  # 0.6
    assert boundary_f1(gt, gt) == pytest.approx(1.0)


def test_boundary_f1_threshold_weights() -> None:
    gt, pred = _step(1.3), _step(1.12)
    # pred's 12% jump is an edge only at the thresholds below 1.12: the first 4 of linspace(1.05, 1.25, 10),
    # weighted by t / sum(t) with sum(t) = 11.5
    thresholds = np.linspace(1.05, 1.25, 10)
    assert boundary_f1(pred, gt) == pytest.approx(thresholds[:4].sum() / 11.5)
    # thresholds where neither map has an edge do not count against a perfect prediction
    assert boundary_f1(_step(1.12), _step(1.12)) == pytest.approx(1.0)


def test_boundary_f1_ignores_pairs_with_invalid_ground_truth() -> None:
    gt = _step()
    pred = gt.copy()
    pred[0, 0] = 50.0  # a wild prediction where the ground truth is invalid
    mask = np.ones(gt.shape, bool)
    mask[0, 0] = False
    assert boundary_f1(pred, gt, mask) == pytest.approx(1.0)
    assert boundary_f1(pred, gt) < 1.0


def test_shape_mismatch_and_empty_ground_truth_are_plate_errors() -> None:
    with pytest.raises(PlateError, match="3 frames of 10x8.*2 frames of 10x8"):
        evaluate_sequence(np.ones((3, 8, 10)), np.ones((2, 8, 10)))
    with pytest.raises(PlateError, match="valid ground truth"):
        evaluate_sequence(np.ones((1, 4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="pred_kind"):
        evaluate_sequence(np.ones((1, 4, 4)), np.ones((1, 4, 4)), pred_kind="metric")


def test_to_dict_layout_is_json_ready() -> None:
    gt = _gt_with_invalid_pixels(frames=2)
    gt[1] = 0.0  # second frame has no ground truth at all
    pred = 1.0 / np.minimum(np.where(gt > 0, gt, 1.0), 70.0)
    data = json.loads(json.dumps(evaluate_sequence(pred, gt).to_dict()))
    assert {"abs_rel", "delta1", "boundary_f1", "temporal", "per_frame"} <= set(data)
    assert set(data["temporal"]) == {"scale_spread", "flicker"}
    assert data["per_frame"]["abs_rel"][1] is None and data["per_frame"]["abs_rel"][0] == pytest.approx(0.0, abs=1e-9)
    assert len(data["per_frame"]["delta1"]) == len(data["per_frame"]["boundary_f1"]) == 2
    assert data["temporal"]["scale_spread"] is None  # only one frame can be fitted


def test_metrics_rank_predictions_on_a_rendered_sequence() -> None:
    seq = render_sequence(SceneConfig(height=48, width=80, num_frames=6, seed=4, noise=0.0))
    gt_disparity = _disparity(seq.depth)
    perfect = evaluate_sequence(4.0 * gt_disparity + 0.01, seq.depth)
    wobble = 1.0 + 0.08 * np.array([1, -1, 1, -1, 1, -1])[:, None, None]  # per-frame scale flicker
    unstable = evaluate_sequence(gt_disparity * wobble, seq.depth)
    blurred = gt_disparity.copy()
    for axis in (1, 2):  # a 3-tap box blur softens every occlusion edge
        blurred = (np.roll(blurred, 1, axis) + blurred + np.roll(blurred, -1, axis)) / 3
    soft = evaluate_sequence(blurred, seq.depth)
    assert perfect.abs_rel < 1e-6 and perfect.boundary_f1 == pytest.approx(1.0) and perfect.flicker < 1e-6
    assert unstable.scale_spread == pytest.approx(0.08, rel=0.15) and unstable.flicker > 0.05
    assert soft.boundary_f1 < 0.8 and soft.scale_spread < 0.01


def test_align_none_scores_metric_depth_as_it_is() -> None:
    rng = np.random.default_rng(9)
    gt = rng.uniform(2.0, 30.0, (3, 8, 10)).astype(np.float32)
    exact = evaluate_sequence(gt.copy(), gt, "depth", align="none")
    assert exact.abs_rel == pytest.approx(0.0, abs=1e-6) and (exact.scale, exact.shift) == (1.0, 0.0)
    off = evaluate_sequence(gt * 1.1, gt, "depth", align="none")
    assert off.abs_rel == pytest.approx(0.1, rel=1e-4)  # 10% too far stays 10% wrong
    assert evaluate_sequence(gt * 1.1, gt, "depth").abs_rel == pytest.approx(0.0, abs=1e-5)  # aligned away
    assert off.to_dict()["alignment"]["align"] == "none"
    with pytest.raises(ValueError, match="align must be one of"):
        evaluate_sequence(gt, gt, "depth", align="frame")
