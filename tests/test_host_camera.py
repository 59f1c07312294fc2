"""The hosts' matchmove camera for the shot solve: the .chan they write (checked against hand-worked values and
against the solve's own .chan reader), the engine arguments, and the Nuke node's Camera input and P / N passes
(tests/fakes/nuke.py Camera: animated translate / rotate / focal knobs)."""
from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.camera import (
    CameraSample, SolveRequest, camera_args, chan_text, pass_args, solve_args,
)
from flashdepth_vfx.solve.cameras import GL_TO_CV, read_chan
from test_host_nuke import args_of, finish, fd, nuke, option, read, version_dir  # noqa: F401 - fixtures

NUKE_BACK = (24.576, 18.672)


def test_chan_lines_hold_file_frames_translate_rotate_and_the_vertical_fov(tmp_path: Path) -> None:
    samples = [CameraSample(1, (1.0, 2.0, 3.0), (10.0, 20.0, 30.0), 50.0, *NUKE_BACK),
               CameraSample(2, (0.5, 0.0, -4.0), (0.0, 90.0, 0.0), 35.0, 36.0, 24.0)]
    lines = [line.split() for line in chan_text(samples).splitlines()]
    assert [line[:7] for line in lines] == [["1", "1", "2", "3", "10", "20", "30"],
                                            ["2", "0.5", "0", "-4", "0", "90", "0"]]
    # 2 atan(18.672 / (2 * 50)) = 2 * 10.5765 degrees; 2 atan(24 / 70) = 2 * 18.9246 degrees
    assert float(lines[0][7]) == pytest.approx(21.15295, abs=1e-4)
    assert float(lines[1][7]) == pytest.approx(37.84925, abs=1e-4)


def test_the_solve_reads_back_the_pose_and_lens_the_host_sampled(tmp_path: Path) -> None:
    samples = [CameraSample(7, (1.0, 2.0, 3.0), (0.0, 90.0, 0.0), 40.0, *NUKE_BACK)]
    path = tmp_path / "cam.chan"
    path.write_text(chan_text(samples))
    args = camera_args(str(path), samples, "ZXY")
    assert args == ["--camera", str(path), "--filmback", "24.576x18.672"]
    camera = read_chan(path, [7], filmback=NUKE_BACK)
    assert camera.lens.focal[0] == pytest.approx(40.0)
    pose = camera.poses[0] @ GL_TO_CV  # back to Nuke's axes (y up, looking down -z)
    assert pose[:3, 3] == pytest.approx([1.0, 2.0, 3.0])
    # rotate y 90 degrees: the camera's -z view axis turns to world -x
    assert pose[:3, :3] @ np.array([0.0, 0.0, -1.0]) == pytest.approx([-1.0, 0.0, 0.0], abs=1e-9)
    assert camera_args(str(path), samples, "xyz")[-2:] == ["--rotation-order", "XYZ"]


def test_pass_and_solve_arguments_and_their_errors(tmp_path: Path) -> None:
    assert pass_args("off", "off") == [] and pass_args("world", "camera") == ["--position", "world",
                                                                             "--normals", "camera"]
    with pytest.raises(FlashDepthError, match="normals pass 'up'"):
        pass_args("off", "up")
    with pytest.raises(FlashDepthError, match="need a matchmove camera"):
        solve_args(str(tmp_path), "", [], "ZXY", "", "world", "off")
    with pytest.raises(FlashDepthError, match="needs the tracked points"):
        solve_args(str(tmp_path), "Camera1", [CameraSample(1, (0, 0, 0), (0, 0, 0), 50.0, *NUKE_BACK)], "ZXY", "",
                   "off", "off")
    animated_back = [CameraSample(1, (0, 0, 0), (0, 0, 0), 50.0, *NUKE_BACK),
                     CameraSample(2, (0, 0, 0), (0, 0, 0), 50.0, 36.0, 24.0)]
    with pytest.raises(FlashDepthError, match="film back is animated \\(frame 2\\)"):
        solve_args(str(tmp_path), "Camera1", animated_back, "ZXY", "pts.obj", "off", "off")
    assert solve_args(str(tmp_path), "", [], "ZXY", "", "off", "off") == SolveRequest()
    request = solve_args(str(tmp_path), "Camera1", animated_back[:1], "ZXY", "pts.obj", "off", "world")
    assert request.args == ("--camera", request.camera_file, "--filmback", "24.576x18.672", "--points", "pts.obj",
                            "--normals", "world")
    assert Path(request.camera_file).parent == tmp_path / "cameras" and request.camera_text.startswith("1 0 0 0 ")
    request.write()
    assert Path(request.camera_file).read_text() == request.camera_text


# --- Nuke --------------------------------------------------------------------------------------------------------

def _camera(nuke: ModuleType) -> Any:
    """A Camera2 dollying along z over script frames 1001-1005 and zooming from 40 to 60 mm."""
    camera = nuke.nodes.Camera2(name="ShotCam")
    for frame in range(1001, 1006):
        camera["translate"].setValueAt(0.1 * (frame - 1001), frame, 2)
        camera["rotate"].setValueAt(2.0 * (frame - 1001), frame, 1)
        camera["focal"].setValueAt(40.0 + 5.0 * (frame - 1001), frame)
    camera["translate"].setValue([1.0, 1.5, 0.0])  # x, y constant
    return camera


def test_nuke_camera_input_writes_the_chan_at_file_frames_and_passes_the_solve_args(
        fd: Any, nuke: ModuleType, tmp_path: Path) -> None:
    plates = tmp_path / "plates"
    plates.mkdir()
    for frame in range(1, 6):
        (plates / f"shot.{frame:04d}.exr").write_text("plate")
    # the plate's files 1-5 play at script frames 1001-1005
    plate = nuke.nodes.Read(file=str(plates / "shot.####.exr"), first=1, last=5, origfirst=1, origlast=5,
                            frame_mode="start at", frame="1001")
    group = fd.create_node(plate)
    group.setInput(1, _camera(nuke))
    group["scene_points"].setValue(str(tmp_path / "track.obj"))
    group["position_pass"].setValue("world")
    group["normal_pass"].setValue("camera")
    worker = fd.render(group)
    finish(fd, group)
    assert group["status"].value().startswith("Done: 5 frames"), group["status"].value()

    args = args_of(worker)
    chan = Path(option(args, "--camera"))
    assert chan.parent == tmp_path / "comp" / "flashdepth" / "FlashDepth1" / "cameras"
    assert option(args, "--filmback") == "24.576x18.672" and "--rotation-order" not in args
    assert option(args, "--points") == str(tmp_path / "track.obj")
    assert option(args, "--position") == "world" and option(args, "--normals") == "camera"
    rows = [[float(v) for v in line.split()] for line in chan.read_text().splitlines()]
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]  # the engine's file frames, not script frames
    assert rows[2][1:7] == pytest.approx([1.0, 1.5, 0.2, 0.0, 4.0, 0.0])  # script frame 1003
    assert rows[4][7] == pytest.approx(math.degrees(2 * math.atan(18.672 / 120.0)))  # 60 mm at 1005
    assert group.node("AddPosition")["disable"].value() is False
    assert group.node("AddNormals")["disable"].value() is False
    shown = version_dir(tmp_path, group)

    # a changed camera, or a changed pass, is a new version
    group.input(1)["focal"].setValueAt(41.0, 1001)
    nuke.knob_changed(group, "frames")
    assert group["status"].value().startswith("Stale"), group["status"].value()
    key_camera = fd.read_source(group).settings.key()
    assert key_camera != shown.name
    group["normal_pass"].setValue("off")
    nuke.knob_changed(group, "normal_pass")
    assert fd.read_source(group).settings.key() not in (shown.name, key_camera)
    assert group.node("AddNormals")["disable"].value() is False  # the version still shown has N
    worker = fd.render(group)
    finish(fd, group)
    assert "--normals" not in args_of(worker) and group.node("AddNormals")["disable"].value() is True
    assert option(args_of(worker), "--camera") != str(chan)


def test_nuke_camera_problems_are_one_status_line(fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    group["position_pass"].setValue("camera")
    nuke.knob_changed(group, "position_pass")
    assert "need a matchmove camera" in group["status"].value()
    group.setInput(1, nuke.nodes.Blur(name="Blur1"))
    assert fd.render(group) is None
    assert group["status"].value() == ("Error: FlashDepth1's Camera input is a Blur (Blur1): connect a Camera node")
    camera = _camera(nuke)
    camera.setInput(0, nuke.nodes.Axis(name="Rig"))
    group.setInput(1, camera)
    group["scene_points"].setValue(str(tmp_path / "track.obj"))
    assert fd.render(group) is None
    assert group["status"].value().startswith("Error: ShotCam has a parent (Rig): bake")
    camera.setInput(0, None)
    camera["win_translate"].setValueAt(0.0, 1002, 0)
    camera["win_translate"].setValueAt(0.1, 1003, 0)
    assert fd.render(group) is None
    assert "lens shift (win_translate) at frame 1003" in group["status"].value()
    camera = _camera(nuke)
    camera["rot_order"].setValue("XYZ")
    group.setInput(1, camera)
    assert option(fd.read_source(group).settings.job().to_args(), "--rotation-order") == "XYZ"



def test_a_nuke_node_saved_before_the_solve_gets_its_camera_input_and_pass_copies_on_load(
        fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    with group:  # what an earlier release saved: Plate -> AddDepth -> Output
        for name in ("AddPosition", "AddNormals", "Camera"):
            nuke.delete(group.node(name))
    output = next(n for n in group.nodes() if n.Class() == "Output")
    output.setInput(0, group.node("AddDepth"))
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))
    position, normals = group.node("AddPosition"), group.node("AddNormals")
    assert group.node("Camera") is not None and group.node("Camera")["number"].value() == 1
    assert output.input(0) is normals and normals.input(0) is position
    assert position.input(0) is group.node("AddDepth") and position.input(1) is group.node("DepthRead")
    assert not nuke.root().modified()
