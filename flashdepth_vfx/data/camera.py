"""Pinhole intrinsics and smooth camera paths.

Poses are camera-to-world 4x4 matrices with OpenCV camera axes (x right, y down, z forward) in a y-up world.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAMERA_MOTIONS = ("static", "dolly", "truck", "pan", "orbit")
"""Camera moves: still; forwards/backwards; sideways; turning in place; circling the look-at point."""


def intrinsics_from_fov(width: int, height: int, horizontal_fov_deg: float) -> np.ndarray:
    """3x3 pinhole matrix with square pixels and the principal point at the image centre."""
    focal = 0.5 * width / np.tan(np.radians(horizontal_fov_deg) / 2.0)
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 1.0, 0.0)) -> np.ndarray:
    """Camera-to-world pose (4, 4) of a camera at ``eye`` looking at ``target`` with the world ``up`` on screen up."""
    forward = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass(frozen=True)
class CameraPath:
    """A smooth, bounded camera move: ``amount(f) = amplitude * sin(2*pi*f/period + phase)``.

    ``amplitude`` is metres for dolly/truck and radians for pan/orbit; the camera starts from ``eye`` looking at
    ``target``.
    """

    motion: str
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    amplitude: float = 0.0
    period: float = 96.0
    phase: float = 0.0

    def __post_init__(self) -> None:
        if self.motion not in CAMERA_MOTIONS:
            raise ValueError(f"unknown camera motion {self.motion!r}; expected one of {CAMERA_MOTIONS}")

    def pose(self, frame: float) -> np.ndarray:
        """Camera-to-world pose (4, 4) at ``frame``."""
        eye, target = np.asarray(self.eye, np.float64), np.asarray(self.target, np.float64)
        amount = self.amplitude * np.sin(2.0 * np.pi * frame / self.period + self.phase)
        base = look_at(eye, target)
        if self.motion == "dolly":
            shift = base[:3, 2] * amount
            eye, target = eye + shift, target + shift
        elif self.motion == "truck":
            shift = base[:3, 0] * amount
            eye, target = eye + shift, target + shift
        elif self.motion == "pan":
            target = eye + _yaw(amount) @ (target - eye)
        elif self.motion == "orbit":
            eye = target + _yaw(amount) @ (eye - target)
        return look_at(eye, target)
