"""Correspondences for the stabiliser: DIS flow kept only where consistent, textured and moving with the shot."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from flashdepth_vfx.solve.flow import FlowMatcher, FlowSettings, prepare_plate, working_size


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).random((height // 4, width // 4)).astype(np.float32)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by (dx, dy) pixels: what was at p is now at p + (dx, dy)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], borderMode=cv2.BORDER_REFLECT)


def _scene(background_motion: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Two frames of a textured background moving by ``background_motion`` and an object moving 3 px down."""
    height, width = 96, 160
    background, patch = _texture(height, width, 0), _texture(height, width, 1)
    a = background.copy()
    a[30:60, 60:100] = patch[30:60, 60:100]
    b = _shifted(background, *background_motion)
    b[33:63, 60:100] = patch[30:60, 60:100]
    return a, b


def _on_object(source: np.ndarray) -> np.ndarray:
    return (source[:, 1] >= 34) & (source[:, 1] < 56) & (source[:, 0] >= 64) & (source[:, 0] < 96)


@pytest.mark.parametrize("background_motion", [(0.0, 0.0), (3.0, 0.0), (-1.5, 2.0)])
def test_matches_follow_the_shot(background_motion: tuple[float, float]) -> None:
    a, b = _scene(background_motion)
    matches = FlowMatcher().match(prepare_plate(a, a.shape), prepare_plate(b, b.shape))
    assert len(matches) > 0.4 * a.size
    background = ~_on_object(matches.source)
    motion = (matches.target - matches.source)[background]
    np.testing.assert_allclose(np.median(motion, axis=0), background_motion, atol=0.1)
    assert np.mean(np.hypot(*(motion - background_motion).T) < 0.5) > 0.9  # the rest: around the object


def test_a_still_camera_drops_what_moves() -> None:
    a, b = _scene((0.0, 0.0))
    matches = FlowMatcher().match(prepare_plate(a, a.shape), prepare_plate(b, b.shape))
    assert _on_object(matches.source).sum() < 0.05 * 22 * 32  # the object is not taken for static background
    # (With a moving camera the fundamental matrix does this; a flat test image is degenerate for it, and the
    # stabiliser's robust disparity fit is the second line of defence: see test_solve_stabilize.)


def test_flat_or_tiny_frames_give_no_matches() -> None:
    matcher = FlowMatcher()
    flat = prepare_plate(np.full((64, 64, 3), 0.4, np.float32), (64, 64))
    assert len(matcher.match(flat, flat)) == 0
    tiny = prepare_plate(np.random.default_rng(0).random((8, 8, 3), np.float32), (8, 8))
    assert len(matcher.match(tiny, tiny)) == 0


def test_plates_are_reduced_to_the_working_size() -> None:
    assert working_size(1152, 2048, 960) == (540, 960)
    assert working_size(126, 224, 960) == (126, 224)  # never scaled up
    grey = prepare_plate(np.random.default_rng(0).random((1152, 2048, 3), np.float32), (126, 224))
    assert grey.shape == (126, 224) and grey.dtype == np.uint8
    with pytest.raises(ValueError, match="preset"):
        FlowSettings(preset="slow")
