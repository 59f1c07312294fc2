"""Camera readers: USD written with pxr and read back, Nuke .chan conventions (ZXY, vertical FOV), bare lenses,
projection against hand-worked pixels, and one-line errors."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pxr import Gf, Usd, UsdGeom

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.data.matchmove import filmback, write_camera_chan, write_camera_usd
from flashdepth_vfx.errors import SolveError
from flashdepth_vfx.solve.cameras import (
    NUKE_FILMBACK, euler_angles, euler_matrix, intrinsics_camera, load_camera, parse_filmback, read_chan,
    read_usd_camera,
)
from flashdepth_vfx.solve.observations import project

WIDTH, HEIGHT = 360, 240


def _usd_camera(path: Path, *, up: str = "Y", meters: float = 1.0, second: bool = False) -> Path:
    """A camera under a translated parent, its own translate animated 1001 -> 1010 (z 10 -> 20), 35 mm on 36x24."""
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z if up == "Z" else UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, meters)
    rig = UsdGeom.Xform.Define(stage, "/rig")
    rig.AddTranslateOp().Set(Gf.Vec3d(1.0, 2.0, 0.0))
    camera = UsdGeom.Camera.Define(stage, "/rig/shotcam")
    camera.CreateFocalLengthAttr(35.0)
    camera.CreateHorizontalApertureAttr(36.0)
    camera.CreateVerticalApertureAttr(24.0)
    translate = camera.AddTranslateOp()
    translate.Set(Gf.Vec3d(0.0, 0.0, 10.0), Usd.TimeCode(1001))
    translate.Set(Gf.Vec3d(0.0, 0.0, 20.0), Usd.TimeCode(1010))
    if second:
        UsdGeom.Camera.Define(stage, "/witness")
    stage.GetRootLayer().Save()
    return path


def test_usd_camera_round_trip_and_projection(tmp_path) -> None:
    path = _usd_camera(tmp_path / "cam.usda", up="Z", meters=0.01)
    camera = read_usd_camera(path, [1001, 1005, 1010])
    assert camera.up_axis == "Z" and camera.meters_per_unit == pytest.approx(0.01)
    np.testing.assert_allclose(camera.poses[:, :3, 3], [[1, 2, 10], [1, 2, 10 + 40 / 9], [1, 2, 20]], atol=1e-9)
    k = camera.lens.matrix(0, WIDTH, HEIGHT)
    np.testing.assert_allclose(k, [[350, 0, 180], [0, 350, 120], [0, 0, 1]])  # 35 / 36 * 360 px
    # the camera looks down -Z with +Y up: a point 10 units ahead, 1 right and 0.5 up of the lens (hand-worked)
    uv, z = project(np.array([[2.0, 2.5, 0.0]]), camera.world_to_camera(1001), k)
    np.testing.assert_allclose(uv, [[180 + 35, 120 - 17.5]])
    np.testing.assert_allclose(z, [10.0])


def test_usd_frame_offset_and_range_errors(tmp_path) -> None:
    path = _usd_camera(tmp_path / "cam.usda")
    shifted = read_usd_camera(path, [1, 10], frame_offset=1000)
    np.testing.assert_allclose(shifted.poses[:, 2, 3], [10, 20])
    with pytest.raises(SolveError) as info:
        read_usd_camera(path, list(range(1, 11)))
    message = str(info.value)
    assert "1001-1010" in message and "frames 1-10" in message and "--frame-offset 1000" in message
    assert "\n" not in message


def test_usd_without_camera_and_with_several(tmp_path) -> None:
    empty = tmp_path / "empty.usda"
    stage = Usd.Stage.CreateNew(str(empty))
    UsdGeom.Xform.Define(stage, "/world")
    stage.GetRootLayer().Save()
    with pytest.raises(SolveError, match="holds no UsdGeom.Camera prim"):
        read_usd_camera(empty, [1])
    two = _usd_camera(tmp_path / "two.usda", second=True)
    with pytest.raises(SolveError, match=r"2 cameras \(/rig/shotcam, /witness\).*--camera-prim"):
        read_usd_camera(two, [1001])
    assert read_usd_camera(two, [1001], prim_path="/rig/shotcam").source.endswith("/rig/shotcam")
    with pytest.raises(SolveError, match="not a camera prim"):
        read_usd_camera(two, [1001], prim_path="/rig")
    (tmp_path / "junk.usda").write_text("not usd at all")
    with pytest.raises(SolveError, match="Cannot open"):
        read_usd_camera(tmp_path / "junk.usda", [1])


def test_zxy_is_nukes_order_and_angles_invert_it() -> None:
    rx, ry, rz = np.radians([30.0, 45.0, 10.0])
    x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    np.testing.assert_allclose(euler_matrix((30, 45, 10)), y @ x @ z)  # Z first, then X, then Y
    np.testing.assert_allclose(euler_matrix((30, 45, 10), "XYZ"), z @ y @ x)
    np.testing.assert_allclose(euler_angles(y @ x @ z), (30, 45, 10))


def test_chan_rotation_and_vertical_fov(tmp_path) -> None:
    path = tmp_path / "cam.chan"
    path.write_text("# frame tx ty tz rx ry rz vfov\n1 0 0 10 0 90 0 40\n2 0 0 10 0 90 0 40\n")
    camera = read_chan(path, [1, 2])
    # ry = 90: the camera that looked down -Z now looks down -X
    uv, z = project(np.array([[-5.0, 0.0, 10.0], [-5.0, 1.0, 9.0]]), camera.world_to_camera(1),
                    camera.lens.matrix(0, WIDTH, HEIGHT))
    focal = NUKE_FILMBACK[1] / (2 * math.tan(math.radians(20)))  # vertical FOV through the vertical aperture
    fx = focal / NUKE_FILMBACK[0] * WIDTH
    np.testing.assert_allclose(z, [5.0, 5.0])
    np.testing.assert_allclose(uv, [[180, 120], [180 + fx / 5, 120 - fx / 5]])  # right is now -Z: 1 up, 1 right
    with_focal = read_chan(path, [1], focal=50.0, filmback=(36.0, 24.0))
    assert with_focal.lens.matrix(0, WIDTH, HEIGHT)[0, 0] == pytest.approx(500.0)


def test_chan_errors_are_one_line(tmp_path) -> None:
    path = tmp_path / "cam.chan"
    path.write_text("1 0 0 10 0 0 0\n2 0 0 10 0 0 0\n")
    with pytest.raises(SolveError, match="no field-of-view column; give the lens with --focal"):
        read_chan(path, [1, 2])
    with pytest.raises(SolveError, match=r"animated over 1-2 .* frames 3"):
        read_chan(path, [1, 2, 3], focal=35)
    path.write_text("1 0 0 10 0 0\n")
    with pytest.raises(SolveError, match="line 1: 6 columns"):
        read_chan(path, [1])
    path.write_text("1 0 0 10 0 0 0 40\n3 0 0 10 0 0 0 40\n")
    with pytest.raises(SolveError, match="no line for frames 2"):
        read_chan(path, [1, 2, 3])


def test_generator_cameras_read_back_as_the_generator_poses(tmp_path) -> None:
    seq = render_sequence(SceneConfig(height=36, width=64, num_frames=4, seed=11, camera_motion="orbit"))
    frames = [1001, 1002, 1003, 1004]
    usd = read_usd_camera(write_camera_usd(seq, tmp_path / "c.usda"), frames)
    chan = read_chan(write_camera_chan(seq, tmp_path / "c.chan"), frames, filmback=filmback(seq))
    for camera in (usd, chan):
        np.testing.assert_allclose(camera.poses, seq.poses, atol=1e-6)
        np.testing.assert_allclose(camera.lens.matrix(2, 64, 36), seq.intrinsics, rtol=1e-6)


def test_bare_lens_options() -> None:
    assert intrinsics_camera([1], fov=90.0).lens.matrix(0, WIDTH, HEIGHT)[0, 0] == pytest.approx(WIDTH / 2)
    assert intrinsics_camera([1], focal=24.576).lens.matrix(0, WIDTH, HEIGHT)[0, 0] == pytest.approx(WIDTH)
    assert load_camera(None, [1]) is None
    assert parse_filmback("36x24") == (36.0, 24.0)
    with pytest.raises(SolveError, match="not both"):
        intrinsics_camera([1], focal=35, fov=40)
    with pytest.raises(SolveError, match="Bad --filmback"):
        parse_filmback("wide")
    with pytest.raises(SolveError, match="unknown camera file type"):
        load_camera("cam.fbx", [1])
    with pytest.raises(SolveError, match="intrinsics only"):
        intrinsics_camera([1], fov=50).world_to_camera(1)


def test_a_chan_row_of_nan_is_named_and_no_frame_offset_0_is_suggested(tmp_path) -> None:
    """A frame the matchmove did not solve exports as nan: the line is named (not a --frame-offset hint), and a
    camera short of the shot's last frames never suggests the default --frame-offset 0."""
    path = tmp_path / "cam.chan"
    path.write_text("1001 0 0 10 0 0 0 40\n1002 nan nan nan nan nan nan 40\n1003 0 0 10 0 0 0 40\n")
    with pytest.raises(SolveError) as info:
        read_chan(path, [1001, 1002, 1003])
    assert str(info.value) == (f"{path} line 2: '1002 nan nan nan nan nan nan 40' is not a camera (nan or inf, as a "
                               "frame the matchmove did not solve exports it); solve or delete that frame and export "
                               "again")
    path.write_text("1001 0 0 10 0 0 0 40\n1002 0 0 10 0 0 0 40\n")
    with pytest.raises(SolveError) as info:
        read_chan(path, [1001, 1002, 1003])
    assert "frames 1003 are outside it" in str(info.value) and "--frame-offset" not in str(info.value)


def test_a_usd_camera_with_nothing_authored_is_refused(tmp_path) -> None:
    """USD's fallbacks would make it a static 50 mm camera at the origin: a matchmove artist wants to hear the
    export is empty. A locked-off camera with only its lens authored is a camera."""
    path = tmp_path / "placeholder.usda"
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.Xform.Define(stage, "/rig")
    camera = UsdGeom.Camera.Define(stage, "/rig/shotcam")
    stage.GetRootLayer().Save()
    with pytest.raises(SolveError) as info:
        read_usd_camera(path, [1001])
    assert str(info.value) == (f"{path}: /rig/shotcam has no transform and no lens authored (USD would make it a "
                               "static 50 mm camera at the origin): export the matchmove camera into it")
    camera.CreateFocalLengthAttr(35.0)
    stage.GetRootLayer().Save()
    assert read_usd_camera(path, [1001]).lens.focal[0] == pytest.approx(35.0)
