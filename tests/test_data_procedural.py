"""Procedural video generator: determinism, exact analytic depth, smooth motion, EXR round trip, torch wrapper."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import PyOpenColorIO as OCIO
import pytest

from flashdepth_vfx.data import SceneConfig, render_sequence, write_depth_sequence, write_plate_sequence
from flashdepth_vfx.data.camera import CAMERA_MOTIONS, intrinsics_from_fov, look_at
from flashdepth_vfx.data.exr import DISPLAY_COLORSPACE, LINEAR_COLORSPACE
from flashdepth_vfx.data.procedural import POP_STOPS
from flashdepth_vfx.data.geometry import Box, Motion, Plane, Sphere
from flashdepth_vfx.data.render import Scene, render_view
from flashdepth_vfx.data.srgb import linear_to_srgb, srgb_to_linear
from flashdepth_vfx.data.textures import Material
from flashdepth_vfx.errors import OutputError

# odd sizes put the centre pixel's ray exactly on the optical axis
HEIGHT, WIDTH = 33, 45
GREY = Material((0.5, 0.5, 0.5), (0.2, 0.2, 0.2), "checker", 1.0)
FAR = 80.0


def _view(primitives: list, eye: tuple, target: tuple) -> tuple[np.ndarray, np.ndarray]:
    pose = look_at(np.asarray(eye, float), np.asarray(target, float))
    intrinsics = intrinsics_from_fov(WIDTH, HEIGHT, 60.0)
    return render_view(Scene(tuple(primitives)), pose, intrinsics, HEIGHT, WIDTH, far=FAR)


@pytest.fixture(scope="module")
def clip():
    return render_sequence(SceneConfig(height=63, width=112, num_frames=6, seed=7))


def test_same_seed_renders_identical_frames_and_other_seeds_differ(clip) -> None:
    again = render_sequence(clip.config)
    np.testing.assert_array_equal(again.rgb, clip.rgb)
    np.testing.assert_array_equal(again.depth, clip.depth)
    other = render_sequence(replace(clip.config, seed=8))
    assert np.abs(other.depth - clip.depth).mean() > 0.1
    assert np.abs(other.rgb - clip.rgb).mean() > 0.02


def test_shapes_dtypes_and_ranges(clip) -> None:
    assert clip.rgb.shape == (6, 63, 112, 3) and clip.rgb.dtype == np.float32
    assert clip.depth.shape == (6, 63, 112) and clip.depth.dtype == np.float32
    assert clip.rgb.min() >= 0.0 and clip.rgb.max() <= 1.0
    assert np.isfinite(clip.depth).all() and clip.depth.min() > 0 and clip.depth.max() <= clip.config.far
    assert clip.intrinsics.shape == (3, 3) and clip.intrinsics[0, 2] == 56.0 and clip.intrinsics[1, 2] == 31.5
    assert clip.poses.shape == (6, 4, 4)
    rotations = clip.poses[:, :3, :3]
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), np.tile(np.eye(3), (6, 1, 1)), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0)


def test_any_resolution() -> None:
    seq = render_sequence(SceneConfig(height=17, width=301, num_frames=2, seed=1))
    assert seq.rgb.shape == (2, 17, 301, 3) and seq.depth.shape == (2, 17, 301)


def test_fronto_parallel_plane_gives_its_distance_as_depth_everywhere() -> None:
    eye, target = np.array([1.0, 2.0, -3.0]), np.array([4.0, 1.0, 9.0])
    forward = (target - eye) / np.linalg.norm(target - eye)
    plane = Plane(tuple(eye + 7.5 * forward), tuple(-forward), tuple(np.cross(forward, (0, 1, 0))), GREY)
    _, depth = _view([plane], tuple(eye), tuple(target))
    np.testing.assert_allclose(depth, 7.5, rtol=1e-5)  # z-depth, not distance along the ray


def test_sphere_centre_pixel_depth_is_distance_minus_radius() -> None:
    eye, center = (0.5, 1.0, -2.0), (3.0, 1.5, 9.0)
    _, depth = _view([Sphere(center, 2.0, GREY)], eye, center)
    distance = np.linalg.norm(np.subtract(center, eye))
    assert depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(distance - 2.0, rel=1e-5)
    assert depth[0, 0] == FAR  # corner ray misses: far plane
    assert (depth < FAR).sum() > 50


def test_box_faces_and_edges_have_analytic_depth() -> None:
    square_on = Box((0.0, 1.0, 10.0), (1.0, 1.0, 1.0), GREY)
    _, depth = _view([square_on], (0.0, 1.0, 0.0), (0.0, 1.0, 10.0))
    assert depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(9.0, rel=1e-6)
    turned = Box((0.0, 1.0, 10.0), (1.0, 1.0, 1.0), GREY, yaw=np.pi / 4)  # an edge points at the camera
    _, depth = _view([turned], (0.0, 1.0, 0.0), (0.0, 1.0, 10.0))
    assert depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(10.0 - np.sqrt(2.0), rel=1e-5)


def test_ground_plane_depth_follows_perspective() -> None:
    height = 1.6
    ground = Plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), GREY)
    _, depth = _view([ground], (0.0, height, 0.0), (0.0, height, 10.0))  # level camera
    intrinsics = intrinsics_from_fov(WIDTH, HEIGHT, 60.0)
    rows = np.arange(HEIGHT)
    ray_down = (rows + 0.5 - intrinsics[1, 2]) / intrinsics[1, 1]
    below = ray_down > 0
    expected = np.minimum(height / ray_down[below], FAR)
    np.testing.assert_allclose(depth[below], np.broadcast_to(expected[:, None], depth[below].shape), rtol=1e-5)
    assert (depth[~below] == FAR).all()  # above the horizon: sky


def test_nearest_hit_wins() -> None:
    near = Sphere((0.0, 0.0, 6.0), 1.0, GREY)
    far_box = Box((0.0, 0.0, 12.0), (8.0, 8.0, 1.0), GREY)
    for order in ([near, far_box], [far_box, near]):
        _, depth = _view(order, (0.0, 0.0, 0.0), (0.0, 0.0, 1.0))
        assert depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(5.0, rel=1e-6)
        assert depth[HEIGHT // 2, 3] == pytest.approx(11.0, rel=1e-6)  # beside the sphere: the box's front face


def test_lit_side_brighter_than_shadowed_ground() -> None:
    ground = Plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), Material((0.5,) * 3, (0.5,) * 3))
    blocker = Box((0.0, 3.0, 8.0), (3.0, 0.1, 3.0), GREY)  # a slab floating over the ground, sun straight above
    scene = Scene((ground, blocker), replace(Scene(()).lighting, sun_direction=(0.0, 1.0, 0.0)))
    pose = look_at(np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 8.0]))
    rgb, depth = render_view(scene, pose, intrinsics_from_fov(WIDTH, HEIGHT, 60.0), HEIGHT, WIDTH)
    bottom_row = rgb[-1].mean(axis=-1)  # ground near the camera, in the sun
    under_slab = rgb[HEIGHT // 2, WIDTH // 2].mean()  # ground under the slab, in its shadow
    assert depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(8.0, rel=0.2)
    assert under_slab < 0.5 * bottom_row.mean()


@pytest.mark.parametrize("motion", [m for m in CAMERA_MOTIONS if m != "static"])
def test_camera_moves_smoothly(motion: str) -> None:
    config = SceneConfig(
        height=63, width=112, num_frames=6, seed=3, noise=0.0, moving_objects=False, camera_motion=motion
    )
    seq = render_sequence(config)
    steps = np.diff(seq.poses, axis=0)
    step_sizes = np.linalg.norm(steps, axis=(1, 2))
    assert (step_sizes > 1e-3).all()  # it moves every frame ...
    assert np.linalg.norm(np.diff(steps, axis=0), axis=(1, 2)).max() < 0.2 * step_sizes.min()  # ... at a steady pace
    consecutive = np.abs(np.diff(seq.rgb, axis=0)).mean()
    unrelated = np.abs(seq.rgb[0] - render_sequence(replace(config, seed=4, num_frames=1)).rgb[0]).mean()
    assert 0 < consecutive < 0.35 * unrelated


def test_moving_objects_move_under_a_still_camera() -> None:
    config = SceneConfig(height=63, width=112, num_frames=8, seed=5, noise=0.0, camera_motion="static")
    moving = render_sequence(config)
    still = render_sequence(replace(config, moving_objects=False))
    np.testing.assert_array_equal(moving.poses, np.broadcast_to(moving.poses[0], moving.poses.shape))
    np.testing.assert_array_equal(still.rgb[0], still.rgb[-1])  # nothing moves without object motion
    changed = np.abs(moving.depth[-1] - moving.depth[0]) > 1e-3
    assert 0.001 < changed.mean() < 0.5  # some pixels, not the whole frame


def test_motion_offsets_follow_their_sine() -> None:
    sphere = Sphere((1.0, 1.0, 10.0), 1.0, GREY, Motion((2.0, 0.0, -1.0), period=40.0, yaw_rate=0.1))
    np.testing.assert_allclose(sphere.at(10).center, (3.0, 1.0, 9.0))  # a quarter period: full amplitude
    np.testing.assert_allclose(sphere.at(20).center, (1.0, 1.0, 10.0), atol=1e-12)
    box = Box((0.0, 1.0, 8.0), (1.0, 1.0, 1.0), GREY, yaw=0.5, motion=Motion(yaw_rate=0.1))
    assert box.at(3).yaw == pytest.approx(0.8)


def test_sensor_noise_has_the_requested_strength() -> None:
    config = SceneConfig(height=63, width=112, num_frames=2, seed=2, noise=0.0)
    clean = render_sequence(config).rgb
    noisy = render_sequence(replace(config, noise=0.02)).rgb
    unclipped = (clean > 0.1) & (clean < 0.9)
    assert np.std((noisy - clean)[unclipped]) == pytest.approx(0.02, rel=0.05)


def test_exposure_pops_overexpose_single_frames_and_leave_the_rest_alone() -> None:
    config = SceneConfig(height=63, width=112, num_frames=40, seed=4, noise=0.0)
    clean = render_sequence(config)
    popped = render_sequence(replace(config, exposure_pops=0.25))
    hit = [t for t in range(40) if not np.array_equal(clean.rgb[t], popped.rgb[t])]
    assert 4 <= len(hit) <= 18  # about one frame in four
    np.testing.assert_array_equal(np.delete(popped.rgb, hit, axis=0), np.delete(clean.rgb, hit, axis=0))
    np.testing.assert_array_equal(popped.depth, clean.depth)
    measured = 0
    for t in hit:  # below clipping, every pixel is brighter by one factor 2**stops, stops in POP_STOPS
        before, after = srgb_to_linear(clean.rgb[t]), srgb_to_linear(popped.rgb[t])
        unclipped = after < 0.98
        if unclipped.sum() > 20:
            gains = after[unclipped] / before[unclipped]
            assert 2**POP_STOPS[0] * 0.99 < gains.min() and gains.max() < 2**POP_STOPS[1] * 1.01
            assert gains.max() / gains.min() < 1.02
            measured += 1
    assert measured >= 1
    assert (popped.rgb[hit] > 0.999).mean() > 0.5  # most of a popped frame clips: contrast collapses
    with pytest.raises(ValueError, match="exposure_pops"):
        SceneConfig(exposure_pops=1.5)


def test_renders_quickly() -> None:
    config = SceneConfig(height=126, width=224, num_frames=12, seed=11)
    start = time.process_time()
    render_sequence(config)
    assert time.process_time() - start < 1.5  # about 0.2 s on one free core


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="camera_motion"):
        SceneConfig(camera_motion="crane")
    with pytest.raises(ValueError, match="num_objects"):
        SceneConfig(num_objects=(5, 2))


def test_srgb_transfer_functions_invert_each_other() -> None:
    values = np.linspace(0.0, 1.0, 101, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=1e-6)
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-5)


def _read(path: str) -> tuple[np.ndarray, oiio.ImageSpec]:
    image = oiio.ImageInput.open(path)
    assert image is not None, oiio.geterror()
    spec = image.spec()
    pixels = image.read_image(oiio.FLOAT)
    image.close()
    return pixels, spec


def test_plate_exr_round_trip_through_colour_management(clip, tmp_path: Path) -> None:
    pattern = write_plate_sequence(clip, tmp_path / "plates", name="synth", first_frame=1001)
    assert pattern == str(tmp_path / "plates" / "synth.%04d.exr")
    assert sorted(p.name for p in (tmp_path / "plates").iterdir()) == [f"synth.{f}.exr" for f in range(1001, 1007)]
    config = OCIO.Config.CreateFromFile("ocio://studio-config-latest")
    to_display = config.getProcessor(LINEAR_COLORSPACE, "sRGB Encoded Rec.709 (sRGB)").getDefaultCPUProcessor()
    for index in (0, 5):
        pixels, spec = _read(pattern % (1001 + index))
        assert spec.format == oiio.TypeDesc("half") and tuple(spec.channelnames) == ("R", "G", "B")
        tag = spec.get_string_attribute("oiio:ColorSpace")  # OIIO stores the interop ID, "lin_rec709_scene"
        assert config.getColorSpace(tag).getName() == LINEAR_COLORSPACE
        assert (spec.width, spec.height) == (112, 63)
        np.testing.assert_allclose(pixels, srgb_to_linear(clip.rgb[index]), rtol=1e-3, atol=1e-4)  # half precision
        display = pixels.copy()
        to_display.applyRGB(display)
        np.testing.assert_allclose(display, clip.rgb[index], atol=2e-3)


def test_display_plate_and_depth_exr_round_trip(clip, tmp_path: Path) -> None:
    plate = write_plate_sequence(clip, tmp_path, linear=False, first_frame=1)
    pixels, spec = _read(plate % 1)
    config = OCIO.Config.CreateFromFile("ocio://studio-config-latest")
    assert config.getColorSpace(spec.get_string_attribute("oiio:ColorSpace")).getName() == DISPLAY_COLORSPACE
    np.testing.assert_allclose(pixels, clip.rgb[0], atol=1e-3)
    depth_pattern = write_depth_sequence(clip, tmp_path)
    depth, spec = _read(depth_pattern % 1003)
    assert tuple(spec.channelnames) == ("Z",) and spec.format == oiio.TypeDesc("float")
    np.testing.assert_array_equal(depth[..., 0], clip.depth[2])


def test_unwritable_folder_raises_output_error(clip, tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OutputError, match="not_a_folder"):
        write_plate_sequence(clip, blocker / "plates")


def test_torch_dataset_matches_render_sequence() -> None:
    torch = pytest.importorskip("torch")
    from flashdepth_vfx.data.dataset import ProceduralVideoDataset

    config = SceneConfig(height=30, width=40, num_frames=3)
    dataset = ProceduralVideoDataset(4, config, base_seed=100)
    assert len(dataset) == 4
    item = dataset[2]
    reference = render_sequence(replace(config, seed=102))
    assert item["rgb"].shape == (3, 3, 30, 40) and item["rgb"].dtype == torch.float32
    np.testing.assert_array_equal(item["rgb"].permute(0, 2, 3, 1).numpy(), reference.rgb)
    np.testing.assert_array_equal(item["depth"].numpy(), reference.depth)
    assert item["poses"].shape == (3, 4, 4) and item["intrinsics"].shape == (3, 3)
    with pytest.raises(IndexError):
        dataset[4]
