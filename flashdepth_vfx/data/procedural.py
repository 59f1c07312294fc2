"""Procedural video with exact ground-truth depth: random textured scenes seen by a smoothly moving camera.

Everything is drawn from ``SceneConfig.seed``, so a config always renders the same frames. numpy only (no torch).

    seq = render_sequence(SceneConfig(height=126, width=224, num_frames=12, seed=3))
    seq.rgb    # (T, H, W, 3) float32, display sRGB in [0, 1]
    seq.depth  # (T, H, W) float32 z-depth in metres, far plane where nothing is hit
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flashdepth_vfx.data.camera import CAMERA_MOTIONS, CameraPath, intrinsics_from_fov
from flashdepth_vfx.data.geometry import Box, Motion, Plane, Primitive, Sphere
from flashdepth_vfx.data.render import Lighting, Scene, render_view
from flashdepth_vfx.data.srgb import linear_to_srgb
from flashdepth_vfx.data.textures import PATTERNS, Material


POP_STOPS = (2.0, 6.0)
"""Range of over-exposure (stops) of a frame hit by an exposure pop."""


@dataclass(frozen=True)
class SceneConfig:
    """What to render. ``num_objects`` is an inclusive range; ``camera_motion`` None picks a moving one by seed.

    ``noise`` is the standard deviation of Gaussian sensor noise added to the display-encoded frames; ``far``
    (metres) is the depth given to the sky and the clip for anything further away. ``exposure_pops`` is the chance
    that a frame is over-exposed by :data:`POP_STOPS` (lightning, a strobe, auto-exposure hunting): highlights
    clip and contrast collapses for that one frame while the geometry stays put.
    """

    height: int = 126
    width: int = 224
    num_frames: int = 12
    seed: int = 0
    num_objects: tuple[int, int] = (3, 7)
    moving_objects: bool = True
    noise: float = 0.01
    exposure_pops: float = 0.0
    camera_motion: str | None = None
    fov_deg: tuple[float, float] = (50.0, 75.0)
    shadows: bool = True
    far: float = 80.0

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1 or self.num_frames < 1:
            raise ValueError("height, width and num_frames must be at least 1")
        if not 0 <= self.num_objects[0] <= self.num_objects[1]:
            raise ValueError(f"num_objects must be a range (low, high) with 0 <= low <= high, got {self.num_objects}")
        if self.camera_motion is not None and self.camera_motion not in CAMERA_MOTIONS:
            raise ValueError(f"camera_motion must be one of {CAMERA_MOTIONS} or None, got {self.camera_motion!r}")
        if self.noise < 0 or self.far <= 0:
            raise ValueError("noise must be >= 0 and far > 0")
        if not 0 <= self.exposure_pops <= 1:
            raise ValueError(f"exposure_pops is a probability in [0, 1], got {self.exposure_pops}")


@dataclass
class SyntheticSequence:
    """A rendered clip and its exact geometry."""

    rgb: np.ndarray         # (T, H, W, 3) float32, display sRGB in [0, 1]
    depth: np.ndarray       # (T, H, W) float32, z-depth in metres, in (0, config.far]
    intrinsics: np.ndarray  # (3, 3) float64 pinhole matrix, pixels
    poses: np.ndarray       # (T, 4, 4) float64 camera-to-world, OpenCV camera axes, y-up world
    scene: Scene            # the scene with its motions; scene.at(frame) is what frame `frame` shows
    camera: CameraPath      # camera.pose(frame) == poses[frame]
    config: SceneConfig


def _random_material(rng: np.random.Generator, frequency: tuple[float, float]) -> Material:
    base = rng.uniform(0.05, 0.7, 3)
    accent = rng.uniform(0.02, 0.7, 3)
    return Material(
        base=tuple(base.tolist()),
        accent=tuple(accent.tolist()),
        pattern=PATTERNS[rng.integers(len(PATTERNS))],
        frequency=float(rng.uniform(*frequency)),
        angle=float(rng.uniform(0.0, np.pi)),
        seed=int(rng.integers(1 << 30)),
    )


def _random_object(rng: np.random.Generator, half_fov: float, moving: bool) -> Primitive:
    z = rng.uniform(4.5, 22.0)
    x = rng.uniform(-0.8, 0.8) * z * np.tan(half_fov)
    lift = rng.uniform(0.5, 2.5) if rng.random() < 0.2 else 0.0
    material = _random_material(rng, (0.8, 4.0))
    motion = None
    if moving:
        amplitude = (rng.uniform(-2.0, 2.0), 0.0, rng.uniform(-1.5, 1.5))
        motion = Motion(amplitude, rng.uniform(40.0, 120.0), rng.uniform(0, 2 * np.pi), rng.uniform(-0.05, 0.05))
    if rng.random() < 0.5:
        radius = rng.uniform(0.3, 1.5)
        return Sphere((x, radius + lift, z), radius, material, motion)
    half = rng.uniform(0.3, 1.5, 3)
    return Box((x, half[1] + lift, z), tuple(half.tolist()), material, rng.uniform(0, np.pi), motion)


def sample_scene(config: SceneConfig) -> tuple[Scene, CameraPath, np.ndarray]:
    """Draw the scene, camera path and intrinsics (3, 3) for ``config`` from its seed."""
    rng = np.random.default_rng(config.seed)
    fov = rng.uniform(*config.fov_deg)
    intrinsics = intrinsics_from_fov(config.width, config.height, fov)
    half_fov = np.radians(fov) / 2

    ground = Plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), _random_material(rng, (0.3, 1.5)))
    wall_z, wall_height = rng.uniform(28.0, 50.0), rng.uniform(6.0, 20.0)
    wall = Plane(
        (0.0, wall_height / 2, wall_z), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0),
        _random_material(rng, (0.2, 1.0)), half_extent=(np.inf, wall_height / 2),
    )
    count = int(rng.integers(config.num_objects[0], config.num_objects[1] + 1))
    moving = np.zeros(count, bool)
    if config.moving_objects and count:
        moving = rng.random(count) < 0.5
        moving[rng.integers(count)] = True  # at least one object moves
    objects = [_random_object(rng, half_fov, bool(m)) for m in moving]

    elevation, azimuth = np.radians(rng.uniform(25, 65)), np.radians(rng.uniform(100, 260))
    sun_strength, ambient_strength = rng.uniform(0.8, 1.1), rng.uniform(0.2, 0.35)
    lighting = Lighting(
        sun_direction=(np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)),
        sun_colour=tuple((sun_strength * np.array([1.0, 0.95, 0.85])).tolist()),
        ambient=tuple((ambient_strength * np.array([0.9, 1.0, 1.2])).tolist()),
        sky_horizon=tuple(rng.uniform(0.6, 0.85, 3).tolist()),
        sky_zenith=tuple((rng.uniform(0.15, 0.35) * np.array([0.8, 1.1, 1.8])).tolist()),
        haze_distance=float(rng.uniform(150.0, 500.0)),
    )

    motion = config.camera_motion or CAMERA_MOTIONS[1 + rng.integers(len(CAMERA_MOTIONS) - 1)]
    amplitude = rng.uniform(1.0, 3.0) if motion in ("dolly", "truck") else np.radians(rng.uniform(10.0, 25.0))
    camera = CameraPath(
        motion=motion,
        eye=(0.0, rng.uniform(1.2, 2.2), 0.0),
        target=(rng.uniform(-1.0, 1.0), rng.uniform(0.5, 1.5), 10.0),
        amplitude=float(amplitude),
        period=float(rng.uniform(48.0, 160.0)),
        phase=float(rng.uniform(-np.pi / 4, np.pi / 4) + np.pi * rng.integers(2)),  # start mid-swing, moving
    )
    return Scene((ground, wall, *objects), lighting), camera, intrinsics


def render_sequence(config: SceneConfig) -> SyntheticSequence:
    """Render ``config.num_frames`` frames of the scene drawn from ``config.seed``."""
    scene, camera, intrinsics = sample_scene(config)
    noise_rng = np.random.default_rng([config.seed, 1])
    pop_rng = np.random.default_rng([config.seed, 2])
    frames, depths, poses = [], [], []
    for frame in range(config.num_frames):
        pose = camera.pose(frame)
        linear, depth = render_view(
            scene.at(frame), pose, intrinsics, config.height, config.width, config.far, config.shadows
        )
        pop = pop_rng.random() < config.exposure_pops  # drawn for every frame: frames never shift between configs
        stops = pop_rng.uniform(*POP_STOPS)
        if pop:
            linear = linear * np.float32(2.0**stops)
        rgb = linear_to_srgb(linear)
        if config.noise > 0:
            rgb = np.clip(rgb + np.float32(config.noise) * noise_rng.standard_normal(rgb.shape, np.float32), 0.0, 1.0)
        frames.append(rgb)
        depths.append(depth)
        poses.append(pose)
    return SyntheticSequence(
        rgb=np.stack(frames),
        depth=np.stack(depths),
        intrinsics=intrinsics,
        poses=np.stack(poses),
        scene=scene,
        camera=camera,
        config=config,
    )
