"""Frame-to-frame pixel correspondences from OpenCV's DIS optical flow, kept only where they can be trusted.

A pixel of frame A is matched to frame B when the forward flow A->B and the backward flow B->A bring it back to
where it started (occlusions and flow errors fail this), it lands inside B, and it moves with the dominant rigid
motion of the shot (a fundamental matrix fitted by RANSAC; with a still camera, the dominant translation), so
tracks on moving objects are dropped. Plates are reduced to grey, histogram-equalised 8-bit images first, which
keeps the flow working through exposure changes (an over-exposed frame keeps the shape of its histogram).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flashdepth_vfx.errors import PlateError

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
MIN_SIDE = 16
"""Smallest frame side (pixels) the flow is computed on; DIS needs a few pyramid levels of 8-pixel patches."""


@dataclass(frozen=True)
class FlowSettings:
    """How correspondences are found.

    ``max_side``: the flow runs on frames scaled so their longer side is at most this (pixels). ``fb_tolerance``:
    a match is kept when the forward-backward round trip ends within ``fb_tolerance + fb_relative * |flow|``
    pixels of its start. ``epipolar_threshold``: largest Sampson distance (pixels) to the shot's rigid motion.
    ``still_motion``: below this median flow (pixels) the camera is taken as still and pixels moving by more than
    ``epipolar_threshold`` from the median flow are dropped instead. ``min_gradient``: pixels of A whose mean
    brightness gradient over 5x5 pixels is below this (8-bit levels per pixel, after equalisation) have nothing
    for the flow to lock on to and are not matched.
    """

    preset: str = "medium"
    max_side: int = 960
    fb_tolerance: float = 0.5
    fb_relative: float = 0.05
    epipolar_threshold: float = 1.0
    still_motion: float = 0.5
    min_gradient: float = 2.0

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"flow preset must be one of {tuple(PRESETS)}, got {self.preset!r}")
        if self.max_side < MIN_SIDE:
            raise ValueError(f"max_side must be at least {MIN_SIDE} pixels, got {self.max_side}")


@dataclass
class Matches:
    """Corresponding pixels: ``source`` (N, 2) integer pixel positions (x, y) in frame A, ``target`` (N, 2) float
    positions in frame B, both at the working size."""

    source: np.ndarray
    target: np.ndarray

    def __len__(self) -> int:
        return len(self.source)


def working_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """``(height, width)`` scaled down (never up) so the longer side is at most ``max_side``."""
    factor = min(1.0, max_side / max(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def prepare_plate(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A display-referred plate (H, W, 3) or (H, W) in [0, 1] as the flow's input: grey, resized to ``size``
    (height, width), 8-bit, histogram-equalised. NaN counts as black."""
    image: np.ndarray = np.asarray(rgb, np.float32)
    if image.ndim == 3:
        if image.shape[2] not in (3, 4):
            raise PlateError(f"Plate has {image.shape[2]} channels; the stabiliser needs RGB (or grey) plates")
        image = image[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    elif image.ndim != 2:
        raise PlateError(f"Plate of shape {image.shape} is not an image; expected (height, width, 3)")
    image = np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)
    if image.shape != size:
        interpolation = cv2.INTER_AREA if image.shape[0] >= size[0] else cv2.INTER_LINEAR
        image = cv2.resize(image, (size[1], size[0]), interpolation=interpolation)
    grey = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.equalizeHist(grey)


class FlowMatcher:
    """Dense correspondences between prepared plates (see :func:`prepare_plate`)."""

    def __init__(self, settings: FlowSettings = FlowSettings()) -> None:
        self.settings = settings
        self._dis = cv2.DISOpticalFlow.create(PRESETS[settings.preset])

    def flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) float32 from ``a`` to ``b``: pixel ``p`` of ``a`` shows what ``p + flow[p]`` of ``b`` does."""
        return self._dis.calc(a, b, None)  # type: ignore[call-overload]  # None: let OpenCV allocate the flow

    def match(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator | None = None) -> Matches:
        """Pixels of ``a`` with a trusted match in ``b`` (forward-backward consistent, inside ``b``, static)."""
        height, width = a.shape
        if min(height, width) < MIN_SIDE:
            return Matches(np.empty((0, 2), np.int64), np.empty((0, 2), np.float32))
        forward, backward = self.flow(a, b), self.flow(b, a)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        map_x, map_y = xs + forward[..., 0], ys + forward[..., 1]
        back = cv2.remap(backward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        round_trip = np.hypot(forward[..., 0] + back[..., 0], forward[..., 1] + back[..., 1])
        speed = np.hypot(forward[..., 0], forward[..., 1])
        s = self.settings
        with np.errstate(invalid="ignore"):
            keep = round_trip <= s.fb_tolerance + s.fb_relative * speed
        keep &= (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
        keep &= texture(a) >= s.min_gradient
        y, x = np.nonzero(keep)
        source = np.stack([x, y], axis=1)
        target = np.stack([map_x[y, x], map_y[y, x]], axis=1)
        static = self._static(source.astype(np.float32), target, rng or np.random.default_rng(0))
        return Matches(source[static], target[static])

    def _static(self, source: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Matches that follow the dominant rigid motion between the two frames."""
        if len(source) < 16:
            return np.ones(len(source), bool)
        motion = target - source
        median = np.median(motion, axis=0)
        threshold = self.settings.epipolar_threshold
        if np.median(np.hypot(motion[:, 0], motion[:, 1])) < self.settings.still_motion:
            return np.hypot(motion[:, 0] - median[0], motion[:, 1] - median[1]) <= threshold
        pick = rng.choice(len(source), min(len(source), 4000), replace=False)
        fundamental, _ = cv2.findFundamentalMat(source[pick], target[pick], cv2.FM_RANSAC, threshold, 0.999)
        if fundamental is None or fundamental.shape != (3, 3):  # degenerate (e.g. a pure pan): no test possible
            return np.ones(len(source), bool)
        return _sampson(fundamental, source, target) <= threshold**2


def texture(grey: np.ndarray) -> np.ndarray:
    """Mean absolute brightness gradient (levels per pixel) over 5x5 pixels of an 8-bit image."""
    image = grey.astype(np.float32)
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1) * 0.5
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1) * 0.5
    return cv2.blur(np.abs(gx) + np.abs(gy), (5, 5))


def _sampson(fundamental: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Squared Sampson distance (pixels^2) of each match to the epipolar geometry ``fundamental``."""
    ones = np.ones((len(source), 1))
    p, q = np.hstack([source, ones]), np.hstack([target, ones])
    fp, ftq = p @ fundamental.T, q @ fundamental
    numerator = np.sum(q * fp, axis=1) ** 2
    denominator = fp[:, 0] ** 2 + fp[:, 1] ** 2 + ftq[:, 0] ** 2 + ftq[:, 1] ** 2
    return numerator / np.maximum(denominator, 1e-12)
