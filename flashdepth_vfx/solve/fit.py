"""The shot solve: per-frame affine maps of disparity to scene inverse depth, fitted robustly and jointly.

Frame ``t`` maps disparity ``d`` to inverse depth ``a_t * d + b_t`` (the alignment the paper's evaluation uses).
A reference pair (``d``, ``y`` = 1 / Z) has the *relative* residual ``r = (a_t d + b_t) / y - 1`` (the relative
depth error, to first order), so near and far points count alike. The parameters of the whole shot minimise

    sum_t sum_k w_k r_k^2 / sigma^2  +  sum_t sum_(ref) ((a_t - a_(t-1)) d_ref + (b_t - b_(t-1)))^2 / (y_ref smoothness)^2

a robust data term (Tukey's biweight on residuals in units of the robust spread ``sigma``, started from a
least-median-of-squares fit per frame, so tracks on moving objects and mis-tracked points are rejected) plus a
smoothness prior: the frame-to-frame change of the mapped inverse depth at two reference disparities (the 5th and 95th
percentile of the references), relative, is expected to be about ``smoothness`` (5% by default). Frames with many
points follow their data; frames with few or none borrow from their neighbours (linearly across a gap). Cuts split
the shot into segments solved independently. Each segment is a block-tridiagonal (2x2 blocks) least-squares system,
solved in O(frames). ``residual="disparity"`` fits absolute inverse-depth residuals instead (measured on the
embedded model's held-out shots, relative residuals give the lower AbsRel and scale spread).
"""
from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from flashdepth_vfx.errors import check_cancel
from flashdepth_vfx.solve.defaults import SMOOTHNESS
from flashdepth_vfx.solve.observations import Observations

TUKEY_C = 4.685
MAD_TO_SIGMA = 1.4826
MIN_SIGMA = 1e-3
"""Floor of the robust residual spread (0.1%): exact references must not make the prior vanish."""
RIDGE = 1e-6
"""Weight, relative to the prior, pulling every frame towards its segment's pooled fit: keeps degenerate data solvable."""
_MAX_PAIRS = 100
_MAX_SCORED = 500
"""Least median of squares: candidate lines from at most _MAX_PAIRS pairs, scored on at most _MAX_SCORED rows."""


@dataclass
class ShotFit:
    """The solved mapping per frame and how well the references support it."""

    scale: np.ndarray     # (T,) a_t
    shift: np.ndarray     # (T,) b_t
    points: np.ndarray    # (T,) references seen in the frame
    inliers: np.ndarray   # (T,) references kept by the robust fit
    residual: np.ndarray  # (T,) median |relative residual| of the inliers; NaN without inliers
    sigma: float          # robust residual spread of the shot
    segments: list[tuple[int, int]]  # [start, stop) frame indices solved together


RESIDUALS = ("relative", "disparity")
"""relative: ``(a d + b) / y - 1`` (the default: near and far references count alike, as AbsRel does); disparity:
``a d + b - y`` in inverse scene units (as the paper's least-squares alignment weighs pixels)."""


def _rows(obs: Observations, residual: str = "relative") -> tuple[np.ndarray, np.ndarray]:
    """Design rows (n, 2) and targets (n,): ``(d, 1) -> y`` (disparity) or ``(d / y, 1 / y) -> 1`` (relative)."""
    if residual == "relative":
        return np.stack([obs.disparity / obs.inverse_depth, 1.0 / obs.inverse_depth], axis=1), np.ones(len(obs))
    return np.stack([obs.disparity, np.ones(len(obs))], axis=1), np.asarray(obs.inverse_depth, np.float64)


def least_median_fit(rows: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Least-median-of-squares (a, b) from pairs of rows (``rows @ theta = target``); None with fewer than 2 usable
    rows."""
    n = len(rows)
    if n < 2:
        return None
    if n * (n - 1) // 2 <= _MAX_PAIRS:
        i, j = np.triu_indices(n, 1)
    else:
        i, j = rng.integers(0, n, _MAX_PAIRS), rng.integers(0, n, _MAX_PAIRS)
        keep = i != j
        i, j = i[keep], j[keep]
    a11, a12, a21, a22 = rows[i, 0], rows[i, 1], rows[j, 0], rows[j, 1]
    det = a11 * a22 - a12 * a21
    ok = np.abs(det) > 1e-12 * np.abs(a11 * a22) + 1e-300
    if not ok.any():
        return None
    det, a11, a12, a21, a22 = det[ok], a11[ok], a12[ok], a21[ok], a22[ok]
    ti, tj = target[i][ok], target[j][ok]
    thetas = np.stack([(a22 * ti - a12 * tj) / det, (a11 * tj - a21 * ti) / det], axis=1)  # Cramer's rule
    scored = rng.choice(n, _MAX_SCORED, replace=False) if n > _MAX_SCORED else slice(None)
    medians = np.median(np.abs(rows[scored] @ thetas.T - target[scored, None]), axis=0)
    return thetas[int(np.argmin(medians))]


def fit_frame(obs: Observations, residual: str = "relative") -> tuple[np.ndarray, np.ndarray]:
    """Robust (a, b) of one frame alone and its inlier mask (least median of squares, then Tukey IRLS)."""
    result = solve_shot([obs], residual=residual)
    rows, target = _rows(obs, residual)
    theta = np.array([result.scale[0], result.shift[0]])
    return theta, np.abs(rows @ theta - target) < TUKEY_C * result.sigma


def _segments(count: int, cuts: Collection[int]) -> list[tuple[int, int]]:
    starts = sorted({0, *(c for c in cuts if 0 < c < count)})
    return [(s, e) for s, e in zip(starts, [*starts[1:], count])]


def _block_tridiagonal_solve(diag: np.ndarray, off: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric block-tridiagonal system with 2x2 ``diag`` (T, 2, 2), coupling ``off`` (2, 2) between
    neighbours (the same for every pair) and right-hand side (T, 2): block Thomas algorithm."""
    count = len(diag)
    c_prime = np.zeros((count, 2, 2))
    g_prime = np.zeros((count, 2))
    for t in range(count):
        m = diag[t] - (off.T @ c_prime[t - 1] if t else 0.0)
        g = rhs[t] - (off.T @ g_prime[t - 1] if t else 0.0)
        inverse = np.linalg.inv(m)
        c_prime[t] = inverse @ off
        g_prime[t] = inverse @ g
    theta = np.zeros((count, 2))
    theta[-1] = g_prime[-1]
    for t in range(count - 2, -1, -1):
        theta[t] = g_prime[t] - c_prime[t] @ theta[t + 1]
    return theta


def _prior_matrix(obs: Sequence[Observations], pooled: np.ndarray, smoothness: float) -> np.ndarray:
    """Precision (2, 2) of the frame-to-frame change of (a, b): relative change of the mapped inverse depth at the
    5th and 95th percentile of the segment's reference disparities."""
    disparities = np.concatenate([o.disparity for o in obs]) if obs else np.zeros(0)
    if len(disparities) >= 2 and np.ptp(disparities) > 0:
        references = np.percentile(disparities, [5, 95])
    else:
        centre = float(disparities[0]) if len(disparities) else 1.0
        references = np.array([0.5, 1.5]) * (centre if centre else 1.0)
    precision = np.zeros((2, 2))
    for d in references:
        y = abs(float(pooled @ (d, 1.0))) or 1.0
        e = np.array([d, 1.0]) / y
        precision += np.outer(e, e) / smoothness**2
    return precision


def solve_shot(observations: Sequence[Observations], cuts: Collection[int] = (), smoothness: float = SMOOTHNESS,
               residual: str = "relative", iterations: int = 10, seed: int = 0,
               cancel: threading.Event | None = None) -> ShotFit:
    """Solve (a_t, b_t) for every frame (see the module docstring). ``cuts``: frame indices that start a new segment.
    ``cancel``: once set, :class:`~flashdepth_vfx.errors.Cancelled` is raised at the next iteration.

    Every segment needs at least one reference somewhere; the caller checks (see
    :func:`frames_without_references`) and raises a one-line error naming the frames.
    """
    if residual not in RESIDUALS:
        raise ValueError(f"residual must be one of {RESIDUALS}, got {residual!r}")
    count = len(observations)
    rng = np.random.default_rng(seed)
    systems = [_rows(o, residual) for o in observations]
    scale, shift = np.zeros(count), np.zeros(count)
    weights = [np.ones(len(o)) for o in observations]
    segments = _segments(count, cuts)
    sigma = MIN_SIGMA
    for start, stop in segments:
        check_cancel(cancel)
        seg = systems[start:stop]
        pooled_rows = np.concatenate([r for r, _ in seg])
        pooled_target = np.concatenate([t for _, t in seg])
        floor = MIN_SIGMA * (float(np.median(np.abs(pooled_target))) if len(pooled_target) else 1.0)
        pooled = least_median_fit(pooled_rows, pooled_target, rng)
        if pooled is None:  # one reference (or all alike): scale only
            pooled = (np.array([float(np.mean(pooled_target / pooled_rows[:, 0])), 0.0]) if len(pooled_rows)
                      else np.array([1.0, 0.0]))
        init = [least_median_fit(r, t, rng) if len(r) >= 3 else None for r, t in seg]
        theta = np.stack([pooled if v is None else v for v in init]).astype(np.float64)
        prior = _prior_matrix(observations[start:stop], pooled, smoothness)
        for _ in range(iterations):
            check_cancel(cancel)
            residuals = [r @ th - t for (r, t), th in zip(seg, theta)]
            flat = np.abs(np.concatenate(residuals))
            sigma = max(MAD_TO_SIGMA * float(np.median(flat)) if flat.size else floor, floor)
            limit = TUKEY_C * sigma
            seg_weights = [np.where(np.abs(res) < limit, (1.0 - (res / limit) ** 2) ** 2, 0.0) for res in residuals]
            diag = np.empty((stop - start, 2, 2))
            rhs = np.empty((stop - start, 2))
            for k, ((r, t), w) in enumerate(zip(seg, seg_weights)):
                neighbours = (k > 0) + (k < stop - start - 1)
                diag[k] = (r.T * w) @ r / sigma**2 + prior * (neighbours + RIDGE)
                rhs[k] = (r.T @ (w * t)) / sigma**2 + RIDGE * prior @ pooled
            new = _block_tridiagonal_solve(diag, -prior, rhs)
            converged = np.allclose(new, theta, rtol=1e-9, atol=1e-12)
            theta = new
            weights[start:stop] = seg_weights
            if converged:
                break
        scale[start:stop], shift[start:stop] = theta[:, 0], theta[:, 1]
    inliers = np.array([int(np.count_nonzero(w > 0)) for w in weights])
    relative = np.full(count, np.nan)  # reported as relative error whatever the fitted residual
    for index, (obs, w) in enumerate(zip(observations, weights)):
        if np.any(w > 0):
            mapped = scale[index] * obs.disparity[w > 0] + shift[index]
            relative[index] = float(np.median(np.abs(mapped / obs.inverse_depth[w > 0] - 1.0)))
    return ShotFit(scale, shift, np.array([len(o) for o in observations]), inliers, relative, sigma, segments)


def frames_without_references(observations: Sequence[Observations], cuts: Collection[int] = ()) -> tuple[
        list[int], list[tuple[int, int]]]:
    """Frame indices with no reference, and the segments (start, stop) that have none at all (unsolvable)."""
    empty = [t for t, o in enumerate(observations) if len(o) == 0]
    dead = [(s, e) for s, e in _segments(len(observations), cuts) if all(len(o) == 0 for o in observations[s:e])]
    return empty, dead
