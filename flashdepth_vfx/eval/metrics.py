"""Video depth metrics as the FlashDepth paper measures them, plus boundary sharpness and temporal stability.

Protocol (:func:`evaluate_sequence`):

1. Valid pixels: ground-truth depth finite and > 0 (and a finite prediction). Ground truth is clipped to
   ``max_depth`` (70 m by default, as in the paper's code); its disparity is ``1 / clip(depth, max=max_depth)``.
2. Alignment: ONE least-squares scale and shift over all valid pixels of the whole sequence, fitted in disparity
   space (a ``"depth"`` prediction is inverted first). ``align="none"`` skips it: metric predictions (a solved
   shot) are scored as they are.
3. Aligned disparity -> depth: ``1 / max(disparity, DISPARITY_EPS)``, clipped to ``[MIN_DEPTH, max_depth]``.
4. AbsRel = mean |d - d*| / d*, delta1 = fraction with max(d / d*, d* / d) < 1.25, both over all valid pixels of
   the sequence (and per frame); boundary F1 per frame (Depth Pro), averaged over frames.
5. Temporal: spread of per-frame scales and flicker in static regions (see :func:`scale_spread`, :func:`flicker`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flashdepth_vfx.errors import PlateError

DISPARITY_EPS = 1e-6
"""Aligned disparities are floored at this before inversion (the depth clip to ``max_depth`` then applies)."""
MIN_DEPTH = 1e-3
"""Aligned predicted depth is clipped to ``[MIN_DEPTH, max_depth]`` metres."""
DELTA1_THRESHOLD = 1.25
STATIC_TOLERANCE = 0.01
"""A pixel is static between two frames when its ground-truth depth changes by less than this fraction."""
PRED_KINDS = ("disparity", "depth")
ALIGNMENTS = ("sequence", "none")
"""sequence: one least-squares scale and shift per sequence (the paper); none: the prediction is metric as it is."""


def valid_mask(gt_depth: np.ndarray) -> np.ndarray:
    """Pixels with usable ground truth: finite and > 0."""
    return np.isfinite(gt_depth) & (gt_depth > 0)


@dataclass(frozen=True)
class FitStats:
    """Centred sums of (prediction, target) pairs: enough for a least-squares line, and mergeable exactly.

    Merging per-frame stats (Chan et al.'s pairwise update) gives the same fit as stacking every frame's pixels,
    so a sequence is aligned with one scale and shift without holding all of it in memory.
    """

    count: int
    pred_mean: float
    target_mean: float
    pred_m2: float   # sum (p - mean p)^2
    cross_m2: float  # sum (p - mean p) (t - mean t)

    @classmethod
    def of(cls, pred: np.ndarray, target: np.ndarray) -> FitStats:
        """Statistics of 1-D arrays of paired values."""
        p, t = pred.astype(np.float64), target.astype(np.float64)
        if p.size == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        pm, tm = float(p.mean()), float(t.mean())
        return cls(p.size, pm, tm, float(np.sum((p - pm) ** 2)), float(np.sum((p - pm) * (t - tm))))

    def merge(self, other: FitStats) -> FitStats:
        """Statistics of both sets together."""
        count = self.count + other.count
        if self.count == 0 or other.count == 0:
            return self if other.count == 0 else other
        dp, dt = other.pred_mean - self.pred_mean, other.target_mean - self.target_mean
        weight = self.count * other.count / count
        return FitStats(
            count,
            self.pred_mean + dp * other.count / count,
            self.target_mean + dt * other.count / count,
            self.pred_m2 + other.pred_m2 + dp * dp * weight,
            self.cross_m2 + other.cross_m2 + dp * dt * weight,
        )

    def fit(self) -> tuple[float, float]:
        """Least-squares ``(scale, shift)`` of ``target ~ scale * pred + shift``.

        A constant prediction cannot be scaled: it gets scale 0 and the mean target as shift.
        """
        if self.count == 0:
            raise PlateError("No valid ground-truth pixels to align to; check the ground-truth depth frames")
        constant = self.pred_m2 <= self.count * (1e-12 * self.pred_mean) ** 2
        scale = 0.0 if constant else self.cross_m2 / self.pred_m2
        return scale, self.target_mean - scale * self.pred_mean


def fit_scale_shift(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Least-squares ``scale, shift`` minimising ``sum((scale * pred + shift - target)^2)`` over ``mask``."""
    return FitStats.of(pred[mask], target[mask]).fit()


def disparity_to_depth(disparity: np.ndarray, max_depth: float) -> np.ndarray:
    """``1 / max(disparity, DISPARITY_EPS)`` clipped to ``[MIN_DEPTH, max_depth]``."""
    return np.clip(1.0 / np.maximum(disparity, DISPARITY_EPS), MIN_DEPTH, max_depth)


def abs_rel(pred_depth: np.ndarray, gt_depth: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute relative error ``|d - d*| / d*`` over ``mask`` (NaN if the mask is empty)."""
    if not mask.any():
        return math.nan
    gt = gt_depth[mask].astype(np.float64)
    return float(np.mean(np.abs(pred_depth[mask] - gt) / gt))


def delta1(
    pred_depth: np.ndarray, gt_depth: np.ndarray, mask: np.ndarray, threshold: float = DELTA1_THRESHOLD
) -> float:
    """Fraction of ``mask`` pixels with ``max(d / d*, d* / d) < threshold`` (NaN if the mask is empty)."""
    if not mask.any():
        return math.nan
    pred = pred_depth[mask].astype(np.float64)
    gt = gt_depth[mask].astype(np.float64)
    return float(np.mean(np.maximum(pred / gt, gt / pred) < threshold))


def _neighbour_ratios(depth: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth ratios of horizontal (right / left) and vertical (lower / upper) 4-neighbours; NaN for invalid pairs."""
    with np.errstate(divide="ignore", invalid="ignore"):
        horizontal = np.where(valid[:, 1:] & valid[:, :-1], depth[:, 1:] / depth[:, :-1], np.nan)
        vertical = np.where(valid[1:, :] & valid[:-1, :], depth[1:, :] / depth[:-1, :], np.nan)
    return horizontal, vertical


def _edge_maps(ratios: tuple[np.ndarray, np.ndarray], threshold: float) -> tuple[np.ndarray, ...]:
    """Depth Pro's foreground/background relations, one map per direction: the right, left, lower or upper
    neighbour is further than the pixel by more than the ratio ``threshold`` (NaN pairs are never edges)."""
    horizontal, vertical = ratios
    return horizontal > threshold, horizontal * threshold < 1, vertical > threshold, vertical * threshold < 1


def _precision_recall(
    pred_ratios: tuple[np.ndarray, np.ndarray], gt_ratios: tuple[np.ndarray, np.ndarray], threshold: float
) -> tuple[float, float] | None:
    """Boundary precision and recall at one threshold, averaged over the four directions.

    A direction with no edge in either map is left out of the average (Depth Pro counts it as 0, which caps a
    one-sided step edge at F1 = 0.25 against itself); ``None`` when no direction has an edge.
    """
    precisions, recalls = [], []
    for pred_edges, gt_edges in zip(_edge_maps(pred_ratios, threshold), _edge_maps(gt_ratios, threshold)):
        n_pred, n_gt = int(np.count_nonzero(pred_edges)), int(np.count_nonzero(gt_edges))
        if n_pred == 0 and n_gt == 0:
            continue
        hits = int(np.count_nonzero(pred_edges & gt_edges))
        precisions.append(hits / max(n_pred, 1))
        recalls.append(hits / max(n_gt, 1))
    if not precisions:
        return None
    return float(np.mean(precisions)), float(np.mean(recalls))


def boundary_f1(
    pred_depth: np.ndarray,
    gt_depth: np.ndarray,
    mask: np.ndarray | None = None,
    t_min: float = 1.05,
    t_max: float = 1.25,
    steps: int = 10,
) -> float:
    """Depth Pro's scale-invariant boundary F1 of one frame (pixel pairs with an invalid pixel are ignored).

    Occluding contours are neighbouring pixels whose depth ratio exceeds ``t``, in each of the four directions;
    precision and recall of the predicted contours against the ground truth's are averaged over the directions,
    turned into F1 at ``steps`` thresholds from ``t_min`` to ``t_max`` (5% to 25% depth jumps), and combined with
    weights proportional to the thresholds (``t / sum(t)``), so larger jumps count a little more. Depth Pro
    computes it on inverse depth; the ratios are the same with directions swapped, so the score is identical.
    Thresholds at which neither map has an edge are left out (Depth Pro scores them 0) and the weights of the
    others renormalised; NaN when that leaves none (a flat frame has no boundaries to score).
    """
    valid = np.ones(gt_depth.shape, bool) if mask is None else mask
    pred_ratios, gt_ratios = _neighbour_ratios(pred_depth, valid), _neighbour_ratios(gt_depth, valid)
    thresholds = np.linspace(t_min, t_max, steps)
    scores = np.full(steps, np.nan)
    for index, threshold in enumerate(thresholds):
        pr = _precision_recall(pred_ratios, gt_ratios, float(threshold))
        if pr is not None:
            precision, recall = pr
            scores[index] = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    scored = ~np.isnan(scores)
    if not scored.any():
        return math.nan
    weights = thresholds[scored] / thresholds[scored].sum()
    return float(np.sum(scores[scored] * weights))


def scale_spread(frame_scales: Sequence[float], sequence_scale: float) -> float:
    """Temporal scale consistency: ``std_t(s_t) / |s|``.

    ``s_t`` is the least-squares scale (with its own shift) that best aligns frame ``t`` alone, ``s`` the single
    scale of the whole sequence. A model whose frames share one scale scores 0; 0.1 means frame scales wander by
    about 10%. NaN with fewer than 2 frames or a zero sequence scale.
    """
    if len(frame_scales) < 2 or sequence_scale == 0:
        return math.nan
    return float(np.std(frame_scales) / abs(sequence_scale))


def _flicker_terms(
    previous: np.ndarray, current: np.ndarray, gt_previous: np.ndarray, gt_current: np.ndarray,
    mask_previous: np.ndarray, mask_current: np.ndarray, tolerance: float,
) -> tuple[float, int]:
    """Sum of relative unexplained depth changes over the static pixels of one frame pair, and their count."""
    with np.errstate(invalid="ignore"):  # NaN ground truth (invalid pixels) is never static
        static = mask_previous & mask_current & (np.abs(gt_current - gt_previous) < tolerance * gt_previous)
    unexplained = (current - previous)[static] - (gt_current - gt_previous)[static]
    return float(np.sum(np.abs(unexplained) / gt_current[static])), int(np.count_nonzero(static))


def flicker(
    aligned_depth: np.ndarray, gt_depth: np.ndarray, mask: np.ndarray, tolerance: float = STATIC_TOLERANCE
) -> float:
    """Frame-to-frame flicker in static regions: mean of ``|(d_t - d_(t-1)) - (d*_t - d*_(t-1))| / d*_t``.

    ``d`` is the aligned predicted depth (T, H, W), ``d*`` the (clipped) ground truth, over all consecutive frame
    pairs. Static pixels are valid in both frames and their ground-truth depth changes by less than ``tolerance``
    (1%); the ground truth's own small change there is subtracted, so a perfect prediction scores exactly 0 and any
    other change is flicker. 0.02 means static surfaces jitter by about 2% per frame. NaN without static pixels.
    """
    terms = [
        _flicker_terms(
            aligned_depth[t - 1], aligned_depth[t], gt_depth[t - 1], gt_depth[t], mask[t - 1], mask[t], tolerance
        )
        for t in range(1, len(aligned_depth))
    ]
    count = sum(c for _, c in terms)
    return sum(total for total, _ in terms) / count if count else math.nan


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


@dataclass
class EvalResult:
    """Metrics of one sequence. NaN marks a value that could not be measured (e.g. a frame without valid pixels)."""

    abs_rel: float
    delta1: float
    boundary_f1: float
    scale_spread: float
    flicker: float
    scale: float                      # the sequence alignment: aligned disparity = scale * pred + shift
    shift: float
    pred_kind: str
    max_depth: float
    per_frame_abs_rel: list[float] = field(default_factory=list)
    per_frame_delta1: list[float] = field(default_factory=list)
    per_frame_boundary_f1: list[float] = field(default_factory=list)
    per_frame_flicker: list[float] = field(default_factory=list)  # frame t against t - 1; NaN for the first frame
    align: str = "sequence"

    @property
    def num_frames(self) -> int:
        """Number of frames evaluated."""
        return len(self.per_frame_abs_rel)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""
        frames = {
            "abs_rel": self.per_frame_abs_rel,
            "delta1": self.per_frame_delta1,
            "boundary_f1": self.per_frame_boundary_f1,
            "flicker": self.per_frame_flicker,
        }
        return {
            "abs_rel": _nan_to_none(self.abs_rel),
            "delta1": _nan_to_none(self.delta1),
            "boundary_f1": _nan_to_none(self.boundary_f1),
            "temporal": {"scale_spread": _nan_to_none(self.scale_spread), "flicker": _nan_to_none(self.flicker)},
            "alignment": {"align": self.align, "scale": self.scale, "shift": self.shift, "pred_kind": self.pred_kind},
            "max_depth": self.max_depth,
            "frames": self.num_frames,
            "per_frame": {name: [_nan_to_none(v) for v in values] for name, values in frames.items()},
        }


def _prepare_frame(
    pred: np.ndarray, gt: np.ndarray, pred_kind: str, max_depth: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction as disparity, ground-truth depth clipped to ``max_depth`` (NaN where invalid), and the valid mask."""
    pred = pred.astype(np.float64)
    gt = gt.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = pred if pred_kind == "disparity" else np.where(pred > 0, 1.0 / pred, np.nan)
    mask = valid_mask(gt) & np.isfinite(disparity)
    return disparity, np.where(mask, np.minimum(gt, max_depth), np.nan), mask


def _weighted_mean(values: list[float], weights: list[int]) -> float:
    pairs = [(v, w) for v, w in zip(values, weights) if w > 0]
    return sum(v * w for v, w in pairs) / sum(w for _, w in pairs) if pairs else math.nan


def evaluate_sequence(
    pred: np.ndarray, gt: np.ndarray, pred_kind: str = "disparity", max_depth: float = 70.0, align: str = "sequence"
) -> EvalResult:
    """Evaluate predictions (T, H, W) against ground-truth depth in metres (T, H, W); see the module docstring.

    ``pred_kind`` is ``"disparity"`` (the model's raw output, any scale and shift) or ``"depth"`` (inverted first;
    non-positive values are ignored). ``align="none"`` skips step 2: the prediction is scored as metric depth (or
    inverse metres) as it is; the scale spread still compares frame fits with the sequence's. Works frame by frame:
    memory beyond the inputs is a few frames.
    """
    if pred_kind not in PRED_KINDS:
        raise ValueError(f"pred_kind must be one of {PRED_KINDS}, got {pred_kind!r}")
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}, got {align!r}")
    if pred.ndim != 3 or pred.shape != gt.shape:
        raise PlateError(
            f"Prediction frames {_describe(pred)} do not match ground-truth frames {_describe(gt)}; "
            "evaluate predictions at the ground truth's resolution and frame count"
        )
    frame_stats = []
    for pred_frame, gt_frame in zip(pred, gt):
        disparity, gt_depth, mask = _prepare_frame(pred_frame, gt_frame, pred_kind, max_depth)
        frame_stats.append(FitStats.of(disparity[mask], 1.0 / gt_depth[mask]))
    sequence_stats = FitStats(0, 0.0, 0.0, 0.0, 0.0)
    for stats in frame_stats:
        sequence_stats = sequence_stats.merge(stats)
    if sequence_stats.count == 0:
        raise PlateError("No pixel has both valid ground truth (finite, > 0) and a finite prediction")
    fitted_scale, fitted_shift = sequence_stats.fit()
    scale, shift = (fitted_scale, fitted_shift) if align == "sequence" else (1.0, 0.0)

    abs_rels, delta1s, boundaries, counts, flickers = [], [], [], [], []
    flicker_total, flicker_count = 0.0, 0
    previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for pred_frame, gt_frame in zip(pred, gt):
        disparity, gt_depth, mask = _prepare_frame(pred_frame, gt_frame, pred_kind, max_depth)
        aligned = disparity_to_depth(scale * np.where(mask, disparity, 0.0) + shift, max_depth)
        abs_rels.append(abs_rel(aligned, gt_depth, mask))
        delta1s.append(delta1(aligned, gt_depth, mask))
        boundaries.append(boundary_f1(aligned, gt_depth, mask))
        counts.append(int(np.count_nonzero(mask)))
        pair_total, pair_count = 0.0, 0
        if previous is not None:
            pair_total, pair_count = _flicker_terms(
                previous[0], aligned, previous[1], gt_depth, previous[2], mask, STATIC_TOLERANCE
            )
            flicker_total, flicker_count = flicker_total + pair_total, flicker_count + pair_count
        flickers.append(pair_total / pair_count if pair_count else math.nan)
        previous = aligned, gt_depth, mask

    scored_boundaries = [b for b in boundaries if not math.isnan(b)]
    return EvalResult(
        abs_rel=_weighted_mean(abs_rels, counts),
        delta1=_weighted_mean(delta1s, counts),
        boundary_f1=float(np.mean(scored_boundaries)) if scored_boundaries else math.nan,
        scale_spread=scale_spread([s.fit()[0] for s in frame_stats if s.count >= 2], fitted_scale),
        flicker=flicker_total / flicker_count if flicker_count else math.nan,
        scale=scale,
        shift=shift,
        pred_kind=pred_kind,
        max_depth=max_depth,
        per_frame_abs_rel=abs_rels,
        per_frame_delta1=delta1s,
        per_frame_boundary_f1=boundaries,
        per_frame_flicker=flickers,
        align=align,
    )


def _describe(frames: np.ndarray) -> str:
    if frames.ndim != 3:
        return f"of shape {frames.shape}"
    return f"({frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]})"
