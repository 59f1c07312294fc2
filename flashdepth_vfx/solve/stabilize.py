"""``--stabilize``: remove the high-frequency part of a disparity sequence's frame-to-frame scale and shift drift.

Done the way video stabilisation smooths a camera path:

1. **Relations.** Every frame is related to the frame before it (optionally also to the one before that):
   trusted pixel correspondences from optical flow on the plates (:mod:`flashdepth_vfx.solve.flow`:
   forward-backward consistent, textured, following the shot's rigid motion), kept away from depth edges; the
   disparities of corresponding pixels are related by one affine map ``d_j(x') = s * d_i(x) + t``, fitted robustly
   (orthogonal regression, Tukey weights, started from a least-median-of-squares line), so moving objects and bad
   matches do not count. A pair with too few trusted correspondences, or whose disparities do not agree on one
   map, gives no relation.
2. **Path.** The relations fix each frame's affine map from the first frame of its shot: a path of log-scale and
   shift, like a camera path, solved by least squares over the relations (Cauchy-reweighted where two-frame
   relations overlap the one-frame ones, so one that disagrees counts little). The model's drift is a jitter on
   that path; a real dolly or zoom moves it smoothly and consistently (objects get nearer: the disparity of every
   static point grows from frame to frame).
3. **Smoothing.** The path goes through an L2 trend filter (Hodrick-Prescott: least squares to the path plus
   ``lam`` times the squared second differences). Straight lines pass through it unchanged, at the ends too, so a
   steady dolly is kept exactly; wiggles faster than ``period`` frames are removed.
4. **Correction.** Frame ``i`` gets the affine map from its raw place on the path to the smoothed one, shrunk
   towards no correction by twice the path's own uncertainty (so measurement noise is not applied as drift):
   ``stabilized_i = scale[i] * d_i + shift[i]``.

Hard cuts restart the path. Frames without relations (no texture, a flash, an unflagged cut) break it too, with a
:class:`StabilizeWarning` naming the frames; a frame related to fewer than two others cannot tell drift from motion
and is left as it is (scale 1, shift 0).
"""
from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from flashdepth_vfx.errors import PlateError, check_cancel
from flashdepth_vfx.solve.flow import FlowMatcher, FlowSettings, prepare_plate, working_size

DEFAULT_PERIOD = 12.0
"""Frames: path wiggles faster than this are removed as drift, slower ones kept as motion (half a second at 24 fps)."""
MIN_MATCHES = 200
"""A frame pair needs at least this many trusted correspondences agreeing on its disparity relation."""
MIN_AGREEMENT = 0.5
"""... and at least this share of them: a pair whose disparities disagree more (a flash frame the model saw
differently, a cut) tells nothing reliable about the drift."""
MIN_COVERAGE = 0.2
"""A frame pair is only related when at least this share of the frame's pixels has a trusted correspondence."""
MAX_SCATTER = 0.03
"""... and when the robust spread of the corresponding disparities about the fitted line is at most this share of
the disparity range (10th to 90th percentile)."""
MAX_SAMPLES = 8000
"""Correspondences used per frame pair (a subset of the trusted ones spread over the disparity range)."""
EDGE_TOLERANCE = 0.05
"""Correspondences are dropped where the disparity varies by more than this share of the frame's disparity range
within 3x3 pixels (depth edges, where flow and resampling mix foreground and background)."""
PATH_NOISE_FLOOR = 1e-3
"""Least uncertainty assumed for a relation's log scale."""
SHIFT_NOISE_FLOOR = 1e-2
"""Least uncertainty assumed for a relation's shift, as a share of the centre disparity (shifts matter most where
disparity is small: far away, a shift is a large relative change of depth)."""
DEADBAND = 2.0
"""Corrections are shrunk by this many times the path's uncertainty (the spread of the disagreement between
relations that overlap, e.g. frame 0 to 2 against 0 to 1 to 2), so measurement noise is not applied as drift."""
CAUCHY_C = 2.385
"""Cauchy weight tuning constant for relations that disagree on the path, in robust standard deviations."""
TUKEY_C = 4.685
"""Tukey biweight tuning constant, in robust standard deviations of the residuals."""


class StabilizeWarning(UserWarning):
    """A part of the shot could not be stabilised and was left as it is (the message names the frames)."""


@dataclass(frozen=True)
class PairFit:
    """Robust affine relation ``y ~ scale * x + shift`` between two frames' disparities at corresponding pixels.

    ``inliers``: correspondences with non-zero weight; ``residual``: robust standard deviation of the orthogonal
    residuals, in disparity units.
    """

    scale: float
    shift: float
    inliers: int
    residual: float


@dataclass
class Stabilization:
    """Per-frame correction ``stabilized_i = scale[i] * d_i + shift[i]`` and how it was found.

    Per-frame diagnostics (index ``i``): ``correspondences[i]`` and ``pair_scale[i]``, ``pair_shift[i]``: the
    inlier count and fitted relation linking frame ``i`` to frame ``i - 1`` (0 and NaN where there is none);
    ``raw_log_scale``, ``raw_shift``: the path; ``smooth_log_scale``, ``smooth_shift``: where the correction takes
    it (the smoothed path, less the dead band); shifts are measured at ``centre[i]``, the disparity the path's affine
    maps are centred on. ``segments``: the ``(first, end)`` frame ranges solved as one path (a frame inside one that
    has no relation is left as it is); ``warnings``: the messages raised. Frames left as they are have scale 1,
    shift 0 and a zero path.
    """

    scale: np.ndarray
    shift: np.ndarray
    correspondences: np.ndarray
    pair_scale: np.ndarray
    pair_shift: np.ndarray
    raw_log_scale: np.ndarray
    raw_shift: np.ndarray
    smooth_log_scale: np.ndarray
    smooth_shift: np.ndarray
    centre: np.ndarray
    segments: list[tuple[int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def apply(self, frame: int, disparity: np.ndarray) -> np.ndarray:
        """Frame ``frame``'s disparity (any size), stabilised (float32)."""
        return (self.scale[frame] * np.asarray(disparity, np.float64) + self.shift[frame]).astype(np.float32)


def hp_lambda(period: float) -> float:
    """Trend-filter weight whose gain is one half at ``period`` frames: ``1 / (4 (1 - cos(2 pi / period))^2)``."""
    if not period > 2:
        raise ValueError(f"the smoothing period must be more than 2 frames, got {period}")
    return 1.0 / (4.0 * (1.0 - math.cos(2.0 * math.pi / period)) ** 2)


def trend_filter(values: np.ndarray, period: float = DEFAULT_PERIOD, weights: np.ndarray | None = None) -> np.ndarray:
    """Hodrick-Prescott trend of a 1-D series: ``argmin sum w (x - values)^2 + lam |D2 x|^2``, ``lam = hp_lambda(period)``.

    Lines (and constants) are returned unchanged; fewer than 3 values are returned as they are. ``weights``
    (default 1) of 0 mark missing values, which the trend interpolates. Solved as a banded system in O(n).
    """
    y = np.asarray(values, np.float64)
    n = len(y)
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    if n < 3:
        return y.copy()
    lam = hp_lambda(period)
    # Bands of W + lam * D2^T D2, where every row of D2 is (1, -2, 1).
    diag = w.copy()
    off1, off2 = np.zeros(n - 1), np.zeros(n - 2)
    coeffs = (1.0, -2.0, 1.0)
    rows = np.arange(n - 2)
    for k, ck in enumerate(coeffs):
        np.add.at(diag, rows + k, lam * ck * ck)
        if k < 2:
            np.add.at(off1, rows + k, lam * ck * coeffs[k + 1])
    off2 += lam * coeffs[0] * coeffs[2]
    return _solve_pentadiagonal(diag, off1, off2, w * np.where(w > 0, y, 0.0))


def _solve_pentadiagonal(diag: np.ndarray, off1: np.ndarray, off2: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``A x = rhs`` for symmetric positive definite ``A`` given by its diagonal and two upper bands."""
    n = len(diag)
    l0, l1, l2 = np.zeros(n), np.zeros(n), np.zeros(n)  # L[i, i], L[i, i-1], L[i, i-2]
    for i in range(n):
        if i >= 2:
            l2[i] = off2[i - 2] / l0[i - 2]
        if i >= 1:
            l1[i] = (off1[i - 1] - l2[i] * l1[i - 1]) / l0[i - 1]
        l0[i] = math.sqrt(diag[i] - l1[i] ** 2 - l2[i] ** 2)
    z = np.zeros(n)
    for i in range(n):
        acc = rhs[i] - (l1[i] * z[i - 1] if i >= 1 else 0.0) - (l2[i] * z[i - 2] if i >= 2 else 0.0)
        z[i] = acc / l0[i]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        acc = z[i] - (l1[i + 1] * x[i + 1] if i + 1 < n else 0.0) - (l2[i + 2] * x[i + 2] if i + 2 < n else 0.0)
        x[i] = acc / l0[i]
    return x


def fit_relation(x: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> PairFit | None:
    """Robust ``y ~ scale * x + shift`` between paired disparities, or ``None`` when they cannot determine one.

    Errors are in both frames alike, so the line is an orthogonal (total least squares) fit: an ordinary
    regression of ``y`` on ``x`` would shrink the scale of every pair a little, and the path would inherit the bias
    as a false trend. A least-median-of-squares line over random pairs of points starts iteratively reweighted
    orthogonal fits with Tukey's biweight (robust scale from the median absolute residual). ``None`` with fewer
    than :data:`MIN_MATCHES` points or inliers, or when ``x`` has no spread (one flat disparity cannot tell a scale
    from a shift).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < MIN_MATCHES:
        return None
    rng = rng or np.random.default_rng(0)
    low, high = np.percentile(x, [10, 90])
    spread = high - low
    if not spread > 1e-6 * max(abs(float(np.median(x))), 1e-30):
        return None
    scale, shift = _lmeds_line(x, y, spread, rng)
    weights = np.ones(len(x))
    sigma = 0.0
    for _ in range(20):
        residual = (y - scale * x - shift) / math.hypot(1.0, scale)
        sigma = max(1.4826 * float(np.median(np.abs(residual[weights > 0]))), 1e-4 * spread)
        u = residual / (TUKEY_C * sigma)
        weights = np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
        line = _orthogonal_line(x, y, weights)
        if line is None:
            return None
        converged = abs(line[0] - scale) < 1e-10 and abs(line[1] - shift) < 1e-10 * spread
        scale, shift = line
        if converged:
            break
    inliers = int(np.count_nonzero(weights))
    if inliers < max(MIN_MATCHES, MIN_AGREEMENT * len(x)) or sigma > MAX_SCATTER * spread:
        return None
    return PairFit(scale, shift, inliers, sigma)


def _lmeds_line(x: np.ndarray, y: np.ndarray, spread: float, rng: np.random.Generator) -> tuple[float, float]:
    """The line through two sample points with the least median orthogonal residual over a subset."""
    i, j = rng.integers(len(x), size=(2, 256))
    dx = x[j] - x[i]
    usable = np.abs(dx) > 0.1 * spread
    i, j, dx = i[usable], j[usable], dx[usable]
    if len(i) == 0:  # cannot happen with a 10-90% spread, but keep the fit defined
        return 1.0, float(np.median(y - x))
    slopes = (y[j] - y[i]) / dx
    shifts = y[i] - slopes * x[i]
    probe = rng.choice(len(x), min(len(x), 1000), replace=False)
    residual = np.abs(y[probe][None, :] - slopes[:, None] * x[probe][None, :] - shifts[:, None])
    best = int(np.argmin(np.median(residual, axis=1) / np.hypot(1.0, slopes)))
    return float(slopes[best]), float(shifts[best])


def _orthogonal_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[float, float] | None:
    """Weighted total-least-squares line ``y = scale * x + shift`` (None if the points do not define one)."""
    total = weights.sum()
    if total <= 0:
        return None
    mx, my = float(np.sum(weights * x)) / total, float(np.sum(weights * y)) / total
    dx, dy = x - mx, y - my
    wdx = weights * dx
    sxx, syy, sxy = float(np.sum(wdx * dx)), float(np.sum(weights * dy * dy)), float(np.sum(wdx * dy))
    if sxy == 0.0:
        return None
    scale = (syy - sxx + math.sqrt((syy - sxx) ** 2 + 4.0 * sxy * sxy)) / (2.0 * sxy)
    return scale, my - scale * mx


@dataclass
class _Frame:
    """One frame at the working size: the flow's input, its disparity and where that disparity is smooth."""

    grey: np.ndarray
    disparity: np.ndarray
    smooth: np.ndarray


def _as_disparity(disparity: np.ndarray, index: int) -> np.ndarray:
    """One disparity frame as a float32 (H, W) array; (H, W, 1) is accepted."""
    d = np.asarray(disparity, np.float32)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[..., 0]
    if d.ndim != 2:
        raise PlateError(f"Disparity frame {index} has shape {d.shape}; expected one channel (height, width)")
    return d


def _prepare_disparity(d: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Disparity resampled to ``size`` (NaN kept where it was) and the mask of pixels away from depth edges."""
    if d.shape != size:
        interpolation = cv2.INTER_AREA if d.shape[0] >= size[0] else cv2.INTER_LINEAR
        d = cv2.resize(d, (size[1], size[0]), interpolation=interpolation)
    finite = np.isfinite(d)
    if finite.sum() < 2:
        return d, np.zeros(size, bool)
    low, high = np.percentile(d[finite], [2, 98])
    filled = np.where(finite, d, np.float32(np.median(d[finite])))
    kernel = np.ones((3, 3), np.uint8)
    local_range = cv2.dilate(filled, kernel) - cv2.erode(filled, kernel)
    nan_near = cv2.dilate((~finite).astype(np.uint8), kernel) > 0
    return d, (local_range <= EDGE_TOLERANCE * max(high - low, 1e-30)) & ~nan_near


_REMAP_ROW = 4096
"""Points sampled per row of a :func:`_sample_at` map (OpenCV's remap maps must be under 32767 a side)."""


def _sample_at(image: np.ndarray, x: np.ndarray, y: np.ndarray, interpolation: int, border: int) -> np.ndarray:
    """``image`` at the points ``(x, y)`` (1-D, pixels) through ``cv2.remap`` (border value 0), the points laid out
    in rows of :data:`_REMAP_ROW`: a single (N, 1) map fails for N of 32767 or more (any frame above ~180x180)."""
    count = len(x)
    rows = max(1, -(-count // _REMAP_ROW))
    pad = rows * _REMAP_ROW - count
    map_x = np.pad(np.asarray(x, np.float32), (0, pad)).reshape(rows, _REMAP_ROW)
    map_y = np.pad(np.asarray(y, np.float32), (0, pad)).reshape(rows, _REMAP_ROW)
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=border, borderValue=0).reshape(-1)[:count]


def _pair_samples(
    a: _Frame, b: _Frame, matcher: FlowMatcher, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Disparities of ``a`` and ``b`` at trusted corresponding pixels (at most :data:`MAX_SAMPLES`); none when
    fewer than :data:`MIN_COVERAGE` of the frame's pixels can be trusted."""
    matches = matcher.match(a.grey, b.grey, rng)
    if len(matches) == 0:
        return np.empty(0), np.empty(0)
    sx, sy = matches.source[:, 0], matches.source[:, 1]
    tx, ty = matches.target[:, 0].astype(np.float32), matches.target[:, 1].astype(np.float32)
    x = a.disparity[sy, sx]
    y = _sample_at(b.disparity, tx, ty, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
    smooth_b = _sample_at(b.smooth.astype(np.uint8), np.round(tx), np.round(ty), cv2.INTER_NEAREST,
                          cv2.BORDER_CONSTANT) > 0
    keep = a.smooth[sy, sx] & smooth_b & np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < MIN_COVERAGE * a.grey.size:
        return np.empty(0), np.empty(0)
    pick = _balanced_subset(x, MAX_SAMPLES, rng)
    return x[pick], y[pick]


def _balanced_subset(values: np.ndarray, count: int, rng: np.random.Generator, bins: int = 32) -> np.ndarray:
    """Indices of at most ``count`` values spread over their range: each of ``bins`` equal-width bins gives at
    most ``count / bins`` (more where others have fewer), so one large flat region (sky at the far clip, a wall)
    cannot outvote the rest of the depth range in the fit."""
    if len(values) <= count // 4:
        return np.arange(len(values))
    low, high = np.percentile(values, [1, 99])
    bin_of = np.clip(((values - low) / max(high - low, 1e-30) * bins).astype(np.int64), 0, bins - 1)
    order = rng.permutation(len(values))
    bin_of_ordered = bin_of[order]
    sizes = np.bincount(bin_of_ordered, minlength=bins)
    quota = _water_fill(sizes, count)
    rank = np.empty(len(values), np.int64)  # position of each value among its bin's (shuffled) members
    sort = np.argsort(bin_of_ordered, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank[sort] = np.arange(len(values)) - np.repeat(starts, sizes)
    return order[rank < quota[bin_of_ordered]]


def _water_fill(sizes: np.ndarray, count: int) -> np.ndarray:
    """Per-bin quotas summing to at most ``count``: equal shares, the unused share of small bins passed on."""
    quota = np.zeros_like(sizes)
    remaining, open_bins = count, sizes > 0
    while remaining > 0 and open_bins.any():
        share = remaining // int(open_bins.sum())
        if share == 0:  # fewer left than open bins: one more each for the first ones
            open_bins &= np.cumsum(open_bins) <= remaining
            share = 1
        add = np.where(open_bins, np.minimum(sizes - quota, share), 0)
        if add.sum() == 0:
            break
        quota += add
        remaining -= int(add.sum())
        open_bins = quota < sizes
    return quota


def _components(num_frames: int, links: dict[tuple[int, int], PairFit]) -> list[list[int]]:
    """Frames joined by fitted relations (which never cross a cut), each component in frame order."""
    parent = list(range(num_frames))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for frame in range(num_frames):
        groups.setdefault(root(frame), []).append(frame)
    return sorted(groups.values())


def stabilize(
    disparity: Sequence[np.ndarray],
    plates: Sequence[np.ndarray],
    cuts: Collection[int] = (),
    *,
    period: float = DEFAULT_PERIOD,
    flow: FlowSettings = FlowSettings(),
    hops: int = 1,
    seed: int = 0,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Stabilization:
    """Stabilise a disparity sequence against its plates (see the module docstring).

    ``disparity``: frames (H, W) of relative disparity (near is large), NaN where unknown. ``plates``: the same
    frames as display-referred RGB in [0, 1], any size (the flow runs at the disparity's size, at most
    ``flow.max_side``). ``cuts``: indices of frames that start a new shot (0 is implied). ``period``: in frames,
    see :func:`trend_filter`. ``hops``: every frame is related to the ``hops`` frames before it (1 or 2). 2 lets
    the path step over a frame that cannot be related (a flash) but costs twice the flow, and on a strong dolly,
    where disparities relate by a curve rather than a line, the two-frame lines disagree with the chained one-frame
    lines and add jitter (measured: 2-5x the residual drift of ``hops=1`` on 1.5%-a-frame dollies). ``seed`` fixes the random subsets, so a run
    repeats exactly. Frames are read once, in order; only ``hops + 1`` are held at a time.
    """
    num_frames = len(disparity)
    if num_frames == 0:
        raise PlateError("No disparity frames to stabilise")
    if len(plates) != num_frames:
        raise PlateError(f"Stabilise needs one plate per disparity frame: got {len(plates)} plates "
                         f"for {num_frames} disparity frames")
    bad_cuts = sorted(c for c in cuts if not 0 <= c < num_frames)
    if bad_cuts:
        raise ValueError(f"cut frames {bad_cuts} are outside the sequence's {num_frames} frames")
    if hops not in (1, 2):
        raise ValueError(f"hops must be 1 or 2, got {hops}")
    hp_lambda(period)  # validate before the work
    size: tuple[int, int] | None = None
    matcher = FlowMatcher(flow)
    rng = np.random.default_rng(seed)
    cut_set = set(cuts)
    shot_start = 0

    links: dict[tuple[int, int], PairFit] = {}
    centres = np.full(num_frames, np.nan)
    recent: list[tuple[int, _Frame]] = []
    for index in range(num_frames):
        check_cancel(cancel)
        if progress is not None:
            progress(index, num_frames)
        raw = _as_disparity(disparity[index], index)
        if size is None:  # the flow's working size: the first frame's, at most flow.max_side
            size = working_size(raw.shape[0], raw.shape[1], flow.max_side)
        d, smooth = _prepare_disparity(raw, size)
        frame = _Frame(prepare_plate(plates[index], size), d, smooth)
        finite = d[np.isfinite(d)]
        centres[index] = float(np.median(finite)) if finite.size else np.nan
        if index in cut_set:
            shot_start = index
        for earlier, previous in recent:
            if earlier >= shot_start:
                check_cancel(cancel)
                x, y = _pair_samples(previous, frame, matcher, rng)
                fit = fit_relation(x, y, rng)
                if fit is not None and fit.scale > 0:
                    links[earlier, index] = fit
        recent = [*recent, (index, frame)][-hops:]

    result = Stabilization(
        scale=np.ones(num_frames), shift=np.zeros(num_frames), correspondences=np.zeros(num_frames, np.int64),
        pair_scale=np.full(num_frames, np.nan), pair_shift=np.full(num_frames, np.nan),
        raw_log_scale=np.zeros(num_frames), raw_shift=np.zeros(num_frames),
        smooth_log_scale=np.zeros(num_frames), smooth_shift=np.zeros(num_frames), centre=np.full(num_frames, np.nan),
    )
    for (i, j), fit in links.items():
        if j == i + 1:
            result.correspondences[j] = fit.inliers
            result.pair_scale[j], result.pair_shift[j] = fit.scale, fit.shift
    broken = [i for i in range(1, num_frames) if i not in cut_set and (i - 1, i) not in links]
    if broken:
        _warn(result, f"Stabilise: too few trusted correspondences agreeing on one disparity relation between frames "
                      f"{', '.join(f'{i - 1}-{i}' for i in broken)} (no texture, a flash or an unflagged cut?)")
    alone = []
    for component in _components(num_frames, links):
        if len(component) < 3 or not np.isfinite(centres[component[0]]):
            alone.extend(component)
            continue
        result.segments.append((component[0], component[-1] + 1))
        _solve_component(result, links, float(centres[component[0]]), component, period)
    if alone:
        _warn(result, f"Stabilise: frames {_ranges(sorted(alone))} are related to fewer than 2 other frames "
                      "(or have no finite disparity) and are left as they are (scale 1, shift 0)")
    return result


def _robust_chain(
    frames: list[int], equations: list[tuple[int, int, float, float, float]], floor: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Least squares ``x[j] - a * x[i] = b`` over ``equations`` (i, j, a, b, weight), ``x[frames[0]] = 0``,
    reweighted with Cauchy weights so a relation that disagrees with the others counts little (never nothing: a
    frame is never cut loose from the path by the reweighting). Returns the values
    per position in ``frames``, the final weight of every equation and the robust spread of the residuals (at
    least ``floor``): how well the relations agree where they overlap, i.e. how precisely the path is known."""
    position = {frame: k for k, frame in enumerate(frames)}
    n = len(frames)
    base = np.array([e[4] for e in equations])
    weights = base.copy()
    x, sigma = np.zeros(n), floor
    for _ in range(10):
        diag, off1, off2, rhs = np.zeros(n), np.zeros(max(n - 1, 0)), np.zeros(max(n - 2, 0)), np.zeros(n)
        diag[0] += 1e6 * max(float(base.max()), 1.0)  # the gauge: the first frame is the path's origin
        for (i, j, a, b, _), w in zip(equations, weights):
            p, q = position[i], position[j]
            diag[q] += w
            diag[p] += w * a * a
            (off1 if q - p == 1 else off2)[p] -= w * a
            rhs[q] += w * b
            rhs[p] -= w * a * b
        diag += 1e-12 * max(float(diag.max()), 1.0)
        x = _solve_pentadiagonal(diag, off1, off2, rhs)
        residual = np.array([x[position[j]] - a * x[position[i]] - b for i, j, a, b, _ in equations])
        sigma = max(1.4826 * float(np.median(np.abs(residual))), floor)
        updated = base / (1.0 + (residual / (CAUCHY_C * sigma)) ** 2)
        if np.allclose(updated, weights):
            break
        weights = updated
    return x, weights, sigma


def _solve_component(
    result: Stabilization, links: dict[tuple[int, int], PairFit], centre: float, frames: list[int], period: float
) -> None:
    """Path, smoothed path and corrections of the linked ``frames`` (sorted, at least 3)."""
    members = set(frames)
    fits = [(i, j, fit) for (i, j), fit in sorted(links.items()) if i in members]
    # log S_j - log S_i = log s; T_j - s T_i = t + (s - 1) c: each relation about the centre disparity c.
    log_scale, weights, scale_noise = _robust_chain(
        frames, [(i, j, 1.0, math.log(f.scale), 1.0) for i, j, f in fits], PATH_NOISE_FLOOR
    )
    shift, _, shift_noise = _robust_chain(
        frames, [(i, j, f.scale, f.shift + (f.scale - 1.0) * centre, w) for (i, j, f), w in zip(fits, weights)],
        SHIFT_NOISE_FLOOR * abs(centre) + 1e-12,
    )
    span = np.arange(frames[0], frames[-1] + 1)
    present = np.isin(span, frames).astype(np.float64)
    full_log_scale, full_shift = np.zeros(len(span)), np.zeros(len(span))
    full_log_scale[np.asarray(frames) - frames[0]] = log_scale
    full_shift[np.asarray(frames) - frames[0]] = shift
    smooth_log_scale = trend_filter(full_log_scale, period, present)[np.asarray(frames) - frames[0]]
    smooth_shift = trend_filter(full_shift, period, present)[np.asarray(frames) - frames[0]]
    # Corrections smaller than the path's own uncertainty would only add noise: shrink them by that much.
    log_correction = _shrink(smooth_log_scale - log_scale, DEADBAND * scale_noise)
    shift_correction = _shrink(smooth_shift - shift, DEADBAND * shift_noise)
    smooth_log_scale, smooth_shift = log_scale + log_correction, shift + shift_correction
    scale = np.exp(log_correction)
    index = np.asarray(frames)
    result.raw_log_scale[index], result.raw_shift[index] = log_scale, shift
    result.smooth_log_scale[index], result.smooth_shift[index] = smooth_log_scale, smooth_shift
    result.centre[index] = centre
    result.scale[index] = scale
    result.shift[index] = centre + smooth_shift - scale * shift - scale * centre


def _shrink(values: np.ndarray, amount: float) -> np.ndarray:
    """Soft threshold: every value moved towards 0 by ``amount``, and to 0 if it is nearer than that."""
    return np.sign(values) * np.maximum(np.abs(values) - amount, 0.0)


def _ranges(frames: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``"0-2, 5"``."""
    runs: list[list[int]] = []
    for frame in frames:
        if runs and frame == runs[-1][-1] + 1:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    return ", ".join(f"{run[0]}" if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def _warn(result: Stabilization, message: str) -> None:
    result.warnings.append(message)
    warnings.warn(message, StabilizeWarning, stacklevel=3)
