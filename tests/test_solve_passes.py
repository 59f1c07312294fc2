"""Output passes: depth / distance / inverse, positions and normals from depth, camera and world space."""
from __future__ import annotations

import numpy as np
import pytest

from flashdepth_vfx.solve.passes import (
    camera_points, depth_channel, depth_from_inverse, normals_from_depth, pixel_rays, to_space,
)

K = np.array([[100.0, 0.0, 40.0], [0.0, 100.0, 30.0], [0.0, 0.0, 1.0]])
H, W = 60, 80


def test_depth_modes() -> None:
    z = np.full((H, W), 4.0, np.float32)
    np.testing.assert_allclose(depth_channel(z, "inverse", None), 0.25)
    distance = depth_channel(z, "distance", K)
    assert distance[30, 40] == pytest.approx(4.0 * np.sqrt(1 + 0.005**2 * 2))  # pixel centre (40.5, 30.5)
    assert distance[0, 0] == pytest.approx(4.0 * np.sqrt(1 + (39.5 / 100) ** 2 + (29.5 / 100) ** 2))
    far = depth_from_inverse(np.array([0.5, 1e-9, -0.2]), far=1000.0)
    np.testing.assert_allclose(far, [2.0, 1000.0, 1000.0])


def _plane_depth(normal: np.ndarray, offset: float) -> np.ndarray:
    """Camera-space Z of the plane n . P = offset seen through K (OpenCV axes)."""
    return (offset / (pixel_rays(K, H, W) @ normal)).astype(np.float32)


def test_normals_of_a_tilted_plane_face_the_camera() -> None:
    normal = np.array([0.3, -0.5, -1.0])
    normal /= np.linalg.norm(normal)
    z = _plane_depth(-normal, 5.0)  # the plane lies in front, its normal pointing back at the camera
    normals = normals_from_depth(z, K)
    angles = np.degrees(np.arccos(np.clip(normals @ normal, -1, 1)))
    assert angles.max() < 0.05


def test_normals_do_not_smear_across_an_occluding_edge() -> None:
    z = np.where(np.arange(W)[None, :] < 40, 2.0, 20.0).astype(np.float32) * np.ones((H, 1), np.float32)
    normals = normals_from_depth(z, K)
    facing = np.array([0.0, 0.0, -1.0])
    # fronto-parallel planes: every normal, right up to the edge on both sides, faces the camera
    angles = np.degrees(np.arccos(np.clip(normals @ facing, -1, 1)))
    assert angles.max() < 0.05  # float32 rounding only


def test_spaces() -> None:
    z = np.full((H, W), 2.0, np.float32)
    points = camera_points(z, K)
    gl = to_space(points, None, "camera", points=True)
    np.testing.assert_allclose(gl[30, 40], [0.5 / 100 * 2, -0.5 / 100 * 2, -2.0], rtol=1e-6)
    pose = np.eye(4)
    pose[:3, :3] = [[0, 0, 1], [0, 1, 0], [-1, 0, 0]]  # a quarter turn about y
    pose[:3, 3] = [10.0, 1.0, -3.0]
    world = to_space(points, pose, "world", points=True)
    np.testing.assert_allclose(world[0, 0], pose[:3, :3] @ points[0, 0] + pose[:3, 3], rtol=1e-6)
    direction = to_space(points, pose, "world", points=False)
    np.testing.assert_allclose(direction[0, 0], pose[:3, :3] @ points[0, 0], rtol=1e-6)
